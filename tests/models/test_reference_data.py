"""Reference data a new installation starts with: the example payers with their claim
filing indicators and example X12 payer ids, and the write-off reasons and limits; a
second install never overwrites what an admin changed."""

from __future__ import annotations

import typing
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from denialflow.domain.types import Role
from denialflow.edi.outbound import Payer as OutboundPayer
from denialflow.models.db import engine_for, session_scope
from denialflow.models.migrate import upgrade
from denialflow.models.payer_profiles import FILING_INDICATORS, PayerProfile, default_profiles
from denialflow.models.reference import install_reference_data
from denialflow.models.tables import Payer, WriteOffLimit, WriteOffReason
from denialflow.store.write_offs import write_off_limit, write_off_reason, write_off_reasons


def test_filing_indicator_list_is_the_one_the_837_writer_accepts() -> None:
    annotation = OutboundPayer.model_fields["claim_filing_indicator"].annotation
    assert set(FILING_INDICATORS) == set(typing.get_args(annotation))


def test_new_install_has_payers_with_the_right_filing_indicator_and_an_example_id(
    any_engine: Engine,
) -> None:
    with Session(any_engine) as session:
        payers = {p.id: p for p in session.exec(select(Payer))}
    shipped = {p.id: p for p in default_profiles()}
    assert set(payers) == set(shipped)
    indicators = {pid: p.claim_filing_indicator for pid, p in payers.items()}
    assert indicators == {
        "medicare": "MB",
        "medicaid-tx": "MC",
        "commercial-uhc": "CI",
        "commercial-aetna": "CI",
        "commercial-cigna": "CI",
    }
    for pid, payer in payers.items():
        # What the data file says is what the database got, for every shipped payer.
        assert payer.x12_payer_id == shipped[pid].x12_payer_id != "", pid
        assert payer.claim_filing_indicator in FILING_INDICATORS
    assert payers["commercial-uhc"].x12_payer_id == "87726"


def test_a_profile_with_a_code_outside_the_x12_list_is_refused() -> None:
    profile = default_profiles()[0].model_dump()
    profile["claim_filing_indicator"] = "MED"
    try:
        PayerProfile.model_validate(profile)
    except ValueError as err:
        assert "'MED' is not an 837 SBR09 claim filing indicator" in str(err)
    else:
        raise AssertionError("an unknown SBR09 code was accepted")


def test_reinstalling_keeps_the_admins_edits_and_adds_what_is_missing(engine: Engine) -> None:
    with session_scope(engine) as session:
        medicare = session.get(Payer, "medicare")
        assert medicare is not None
        medicare.claim_filing_indicator = "16"
        medicare.x12_payer_id = "OUR-MAC"
        charity = session.get(WriteOffReason, "charity")
        bad_debt = session.get(WriteOffReason, "bad_debt")
        small = session.get(WriteOffReason, "small_balance")
        assert charity and bad_debt and small
        charity.active = False
        bad_debt.label = "Uncollectable"
        small.position = 50  # moved to the end by the admin
        session.delete(session.get(WriteOffReason, "administrative"))
        session.get(WriteOffLimit, Role.SPECIALIST.value).amount = Decimal("40.00")  # type: ignore[union-attr]
    with session_scope(engine) as session:
        install_reference_data(session)
    with Session(engine) as session:
        medicare = session.get(Payer, "medicare")
        assert medicare is not None
        assert (medicare.claim_filing_indicator, medicare.x12_payer_id) == ("16", "OUR-MAC")
        codes = [r.code for r in write_off_reasons(session)]
        # Retired stays retired; the deleted shipped reason comes back after the admin's last.
        assert "charity" not in codes and codes[-2:] == ["small_balance", "administrative"]
        view = write_off_reason(session, "bad_debt")
        assert view is not None and view.label == "Uncollectable"
        assert write_off_reason(session, "charity") is None
        assert write_off_limit(session, Role.SPECIALIST) == Decimal("40.00")
        assert write_off_limit(session, Role.SUPERVISOR) == Decimal("5000.00")
        assert write_off_limit(session, Role.ADMIN) is None


def test_upgrade_gives_shipped_medicare_and_medicaid_their_codes_but_keeps_an_admins(
    tmp_path: Path,
) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0007")
    with engine.begin() as conn:
        for pid, kind, code in [
            ("medicare", "medicare", "CI"),  # as earlier releases installed it
            ("medicaid-tx", "medicaid", "HM"),  # an admin's choice
            ("commercial-uhc", "commercial", "CI"),
        ]:
            conn.execute(
                text(
                    "INSERT INTO payer (id, name, kind, rules, notes, x12_payer_id, "
                    "claim_filing_indicator) VALUES (:id, :id, :kind, '{}', '', '', :code)"
                ),
                {"id": pid, "kind": kind, "code": code},
            )
    upgrade(engine)
    with Session(engine) as session:
        codes = {p.id: p.claim_filing_indicator for p in session.exec(select(Payer))}
    assert codes == {"medicare": "MB", "medicaid-tx": "HM", "commercial-uhc": "CI"}
    engine.dispose()
