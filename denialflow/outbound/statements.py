"""Patient statements as PDF: a Jinja2 template (denialflow/web/templates/pdf/
statement.html, shipped with the web templates) rendered by WeasyPrint.

The statement carries the practice's header and contact, the statement date and account
number, the guarantor's name and address, every billed claim with its date of service,
its lines, what insurance paid and adjusted, what the patient paid and owes, the total
and the date to pay by, how to pay, and for a reminder or final notice which notice it
is. WeasyPrint fetches nothing: the template has no URLs and only data: URLs would load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates" / "pdf"

STATEMENT_CSS = """
@page { size: letter; margin: 0.6in 0.6in 0.7in 0.6in;
        @bottom-right { content: "Page " counter(page) " of " counter(pages);
                        font-size: 8pt; color: #555; } }
body { font-family: "DejaVu Sans", "Liberation Sans", sans-serif; font-size: 9.5pt;
       color: #000; }
.practice { margin-bottom: 1em; }
.practice-name { font-size: 13pt; font-weight: bold; }
h1 { font-size: 15pt; margin: 0.4em 0; }
h2 { font-size: 11pt; margin: 1em 0 0.3em; }
table { border-collapse: collapse; }
.facts th { text-align: left; padding-right: 1em; }
.guarantor { margin: 1em 0; }
.notice { font-weight: bold; border: 1pt solid #000; padding: 4pt; }
.charges { width: 100%; font-size: 8.5pt; }
.charges th, .charges td { border-bottom: 0.5pt solid #999; padding: 2pt 3pt;
                           text-align: left; vertical-align: top; }
.charges td { white-space: nowrap; }
.charges td.who { white-space: normal; }
.charges .money, .facts .money { text-align: right; }
.charges tr.line td { color: #333; border-bottom: none; }
.charges tfoot th, .charges tfoot td { font-weight: bold; border-top: 1pt solid #000; }
"""

NOTICES = {
    "statement": "",
    "final_notice": (
        "FINAL NOTICE: this balance is seriously past due. Please pay it by the date "
        "above or call us to arrange payment, or the account will be reviewed for "
        "collections."
    ),
}


def notice_for(kind: str) -> str:
    """The line that says which notice a statement is (none for the first)."""
    if kind.startswith("reminder_"):
        number = kind.removeprefix("reminder_")
        return (
            f"REMINDER {number}: this balance is past due. Please pay it by the date above "
            "or call us if you have questions."
        )
    return NOTICES.get(kind, "")


def title_for(kind: str) -> str:
    if kind.startswith("reminder_"):
        return f"Statement - reminder {kind.removeprefix('reminder_')}"
    if kind == "final_notice":
        return "Statement - final notice"
    return "Statement"


@dataclass(frozen=True)
class Practice:
    name: str
    address_lines: list[str]
    phone: str


@dataclass(frozen=True)
class ChargeLine:
    description: str
    charge: Decimal


@dataclass(frozen=True)
class ClaimCharges:
    claim_id: str
    service_date: date
    patient_name: str
    charge: Decimal
    insurance_paid: Decimal
    insurance_adjusted: Decimal
    patient_paid: Decimal
    owes: Decimal
    lines: list[ChargeLine] = field(default_factory=list)


@dataclass(frozen=True)
class StatementDoc:
    account_id: str
    kind: str
    statement_date: date
    pay_by: date
    guarantor_name: str
    guarantor_address_lines: list[str]
    practice: Practice
    claims: list[ClaimCharges]

    @property
    def total_owes(self) -> Decimal:
        return sum((c.owes for c in self.claims), Decimal("0.00"))

    @property
    def notice(self) -> str:
        return notice_for(self.kind)

    @property
    def title(self) -> str:
        return title_for(self.kind)


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )


def statement_html(doc: StatementDoc) -> str:
    return _environment().get_template("statement.html").render(doc=doc)


def statement_pdf(doc: StatementDoc) -> bytes:
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    document = HTML(string=statement_html(doc), url_fetcher=URLFetcher(allowed_protocols=("data",)))
    return document.write_pdf(stylesheets=[CSS(string=STATEMENT_CSS)])


def write_statement(doc: StatementDoc, path: Path) -> Path:
    """Write the PDF to `path` (through a temporary name, so a half-written file never
    stands under the final name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = statement_pdf(doc)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)
    return path
