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
