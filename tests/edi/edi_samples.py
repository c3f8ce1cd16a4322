"""Sample files and small builders shared by the EDI tests."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "x12"


def path(name: str) -> Path:
    return DATA / name


def text(name: str) -> str:
    return path(name).read_text(encoding="ascii")


ISA = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       "
    "*240110*1200*^*00501*{ctrl:0>9}*0*T*:~"
)


def interchange(set_id: str, body: list[str], version: str, ctrl: int = 1) -> str:
    """A complete interchange around one transaction set with correct counts,
    so a test can state only the segments it is about."""
    st = f"ST*{set_id}*0001*{version}"
    segments = [st, *body]
    se = f"SE*{len(segments) + 1}*0001"
    return "\n".join(
        [
            ISA.format(ctrl=ctrl),
            f"GS*XX*SENDER*RECEIVER*20240110*1200*{ctrl}*X*{version}~",
            *(s + "~" for s in segments),
            se + "~",
            f"GE*1*{ctrl}~",
            f"IEA*1*{ctrl:0>9}~",
        ]
    )


# An 837P to the tertiary payer (SBR*T) with both prior payers' adjudication, balanced
# the way the TR3 asks: charge - AMT*D = claim CAS + line CAS, per prior payer.
# Primary PRIME1 decided per line (SVD) and on the claim; secondary SEC2 on the claim only.
COB_TERTIARY_837P = [
    "BHT*0019*00*T1*20240301*1200*CH",
    "NM1*41*2*PRACTICE*****46*S1",
    "NM1*40*2*CLEARINGHOUSE*****46*R1",
    "HL*1**20*1",
    "NM1*85*2*PRACTICE*****XX*1245319599",
    "HL*2*1*22*0",
    "SBR*T*18*GRP3******MC",
    "NM1*IL*1*DOE*JANE****MI*MCD0001",
    "DMG*D8*19500101*F",
    "NM1*PR*2*STATE MEDICAID*****PI*MCD3",
    "CLM*COB3*100.00***11:B:1*Y*A*Y*Y",
    "HI*ABK:R69",
    "SBR*P*18*GRP1*ACME PLAN*****CI",
    "CAS*PR*1*10.00",
    "AMT*D*70.00",
    "OI***Y*P**Y",
    "NM1*IL*1*DOE*JANE****MI*PRM0001",
    "NM1*PR*2*PRIME HEALTH*****PI*PRIME1",
    "DTP*573*D8*20240110",
    "REF*F8*PRIMECLM1",
    "SBR*S*01*GRP2******MB",
    "CAS*OA*23*70.00**94*0.00*2",
    "CAS*PR*2*10.00",
    "AMT*D*20.00",
    "AMT*EAF*10.00",
    "AMT*A8*5.00",
    "OI***N*P**I",
    "NM1*IL*1*DOE*JOHN****MI*SEC0001",
    "NM1*PR*2*SECOND CARE*****PI*SEC2",
    "DTP*573*D8*20240205",
    "LX*1",
    "SV1*HC:99214:25*60.00*UN*1***1",
    "DTP*472*D8*20240102",
    "SVD*PRIME1*45.00*HC:99214:25**1",
    "CAS*CO*45*10.00",
    "CAS*PR*2*5.00*1",
    "DTP*573*D8*20240110",
    "LX*2",
    "SV1*HC:36415*40.00*UN*2***1",
    "DTP*472*D8*20240102",
    "SVD*PRIME1*35.00*HC:36415**2",
    "CAS*CO*45*5.00",
    "DTP*573*D8*20240110",
    "AMT*EAF*5.00",
]
