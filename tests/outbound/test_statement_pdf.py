"""A patient statement's PDF, read back as a person would read it (pdftotext)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from denialflow.outbound.statements import (
    ChargeLine,
    ClaimCharges,
    Practice,
    StatementDoc,
    statement_pdf,
)
from tests.pdf_text import pdf_text


def _doc(kind: str) -> StatementDoc:
    return StatementDoc(
        account_id="A1B2C3D4",
        kind=kind,
        statement_date=date(2026, 3, 2),
        pay_by=date(2026, 4, 1),
        guarantor_name="DOE, JANE",
        guarantor_address_lines=["12 ELM ST", "SPRINGFIELD, IL 62701"],
        practice=Practice("Lakeside Family Practice", ["100 Main St"], "(217) 555-0199"),
        claims=[
            ClaimCharges(
                claim_id="CLM-100",
                service_date=date(2026, 1, 14),
                patient_name="DOE, JANE",
                charge=D("250.00"),
                insurance_paid=D("150.00"),
                insurance_adjusted=D("60.00"),
                patient_paid=D("0.00"),
                owes=D("40.00"),
                lines=[
                    ChargeLine("Procedure 99213", D("180.00")),
                    ChargeLine("Procedure 36415", D("70.00")),
                ],
            ),
            ClaimCharges(
                claim_id="CLM-101",
                service_date=date(2026, 2, 3),
                patient_name="DOE, SAM",
                charge=D("120.00"),
                insurance_paid=D("80.00"),
                insurance_adjusted=D("15.00"),
                patient_paid=D("10.00"),
                owes=D("15.00"),
            ),
        ],
    )


def test_a_statement_shows_the_account_charges_dates_of_service_and_what_is_owed() -> None:
    text = pdf_text(statement_pdf(_doc("statement")))
    for expected in (
        "Lakeside Family Practice",
        "(217) 555-0199",
        "Statement date",
        "2026-03-02",
        "A1B2C3D4",
        "DOE, JANE",
        "12 ELM ST",
        "2026-01-14",
        "2026-02-03",
        "CLM-100",
        "Procedure 99213",
        "180.00",
        "250.00",
        "150.00",
        "60.00",
        "40.00",
        "15.00",
        "$55.00",  # the total owed
        "2026-04-01",  # pay by
        "How to pay",
    ):
        assert expected in text, expected
    assert "REMINDER" not in text and "FINAL NOTICE" not in text


def test_reminders_and_the_final_notice_say_which_notice_they_are() -> None:
    assert "REMINDER 2" in pdf_text(statement_pdf(_doc("reminder_2")))
    assert "FINAL NOTICE" in pdf_text(statement_pdf(_doc("final_notice")))
