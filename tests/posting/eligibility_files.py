"""271 files built for eligibility tests: one payer, any members, each with its plan dates
and EB segments, in a strict X12 envelope (counts and control numbers agree)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from denialflow.models.db import session_scope
from denialflow.models.tables import Payer


@dataclass
class Member271:
    member_id: str
    last_name: str = "DOE"
    first_name: str = "JANE"
    birth_date: date | None = date(1980, 1, 2)
    trace: str = ""  # TRN*2: our 270's trace, when answering one
    begins: date | None = None  # DTP*346
    ends: date | None = None  # DTP*347
    benefits: list[str] = field(default_factory=lambda: ["EB*1**30**GOLD PLAN"])


def d8(day: date) -> str:
    return day.strftime("%Y%m%d")


def build_271(
    members: list[Member271],
    *,
    control: int,
    created: date,
    payer_name: str = "UNITED HEALTHCARE",
    payer_id: str = "87726",
) -> str:
    body = [
        "ST*271*0001*005010X279A1",
        f"BHT*0022*11*REF{control}*{d8(created)}*1200",
        "HL*1**20*1",
        f"NM1*PR*2*{payer_name}*****PI*{payer_id}",
        "HL*2*1*21*1",
        "NM1*1P*2*DEMO FAMILY PRACTICE*****XX*1234567893",
    ]
    for n, m in enumerate(members, start=3):
        body.append(f"HL*{n}*2*22*0")
        if m.trace:
            body.append(f"TRN*2*{m.trace}*1123456789")
        body.append(f"NM1*IL*1*{m.last_name}*{m.first_name}****MI*{m.member_id}")
        if m.birth_date:
            body.append(f"DMG*D8*{d8(m.birth_date)}")
        if m.begins:
            body.append(f"DTP*346*D8*{d8(m.begins)}")
        if m.ends:
            body.append(f"DTP*347*D8*{d8(m.ends)}")
        body += m.benefits
    body.append(f"SE*{len(body) + 1}*0001")
    isa = (
        "ISA*00*          *00*          *ZZ*PAYERSENDER    *ZZ*DENIALFLOW     "
        f"*{created:%y%m%d}*1200*^*00501*{control:09d}*0*T*:"
    )
    segments = [
        isa,
        f"GS*HB*PAYERSENDER*DENIALFLOW*{d8(created)}*1200*{control}*X*005010X279A1",
        *body,
        f"GE*1*{control}",
        f"IEA*1*{control:09d}",
    ]
    return "~\n".join(segments) + "~\n"


def map_payer(engine, x12_id: str, payer_id: str = "commercial-uhc") -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        payer = session.get(Payer, payer_id)
        assert payer is not None
        payer.x12_payer_id = x12_id
        session.add(payer)
