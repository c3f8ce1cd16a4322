"""Appeal letters: the fields a letter template may use, our argument for each denial
category, the shipped default template, and checking and rendering a template.

Templates are Jinja2, written by admins and rendered in a sandbox with StrictUndefined:
a field the letter does not know is refused by name when the template is saved (it is
checked against `sample_context()`), never discovered when a letter goes out. Values
are HTML-escaped; the template's own markup is the admin's.

Everything here is pure: the store collects a claim's rows into `LetterFacts`, and
`letter_context` turns them into what a template sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from denialflow.domain.types import DenialCategory

# A template applies to one denial category (or all of them) and one appeal level (or
# every level); the most specific one on file is used.
ANY_CATEGORY = "any"
ANY_LEVEL = 0
MAX_TEMPLATE = 50_000
# The categories a letter argues; "any" is the fallback for every other category.
LETTER_CATEGORIES: tuple[str, ...] = (
    ANY_CATEGORY,
    DenialCategory.MEDICAL_NECESSITY.value,
    DenialCategory.AUTHORIZATION.value,
    DenialCategory.TIMELY_FILING.value,
    DenialCategory.CODING.value,
    DenialCategory.COORDINATION_OF_BENEFITS.value,
    DenialCategory.DUPLICATE.value,
    DenialCategory.BUNDLING.value,
    DenialCategory.ELIGIBILITY.value,
    DenialCategory.OTHER.value,
)
ATTACHMENT_KINDS: dict[str, str] = {
    "medical_records": "Medical records",
    "timely_filing_proof": "Proof of timely filing",
    "prior_eob": "Prior explanation of benefits",
    "authorization": "Authorization",
    "coverage_policy": "Payer coverage policy",
    "other": "Other document",
}
SEND_METHODS: dict[str, str] = {"mail": "Mail", "fax": "Fax", "portal": "Payer portal"}
LEVEL_LABELS = {1: "First-level appeal", 2: "Second-level appeal", 3: "Third-level appeal"}

# Our argument for each category, in our own words (no payer's or X12's text).
ARGUMENTS: dict[str, str] = {
    DenialCategory.MEDICAL_NECESSITY.value: (
        "The services billed were medically necessary for this patient's condition. The "
        "enclosed medical records document the patient's symptoms, the findings and the "
        "clinical reasoning that led to these services, and they meet the criteria of "
        "your coverage policy. We ask you to review the records and pay the claim."
    ),
    DenialCategory.AUTHORIZATION.value: (
        "The services were authorized, or authorization could not reasonably be obtained "
        "before they were provided. The enclosed documents show the authorization on file "
        "(or our request for it) for the date of service. We ask you to apply it to this "
        "claim and pay it."
    ),
    DenialCategory.TIMELY_FILING.value: (
        "This claim was filed within your filing limit. The enclosed proof of timely filing "
        "(the clearinghouse acceptance report and our submission records) shows the date "
        "you received it. We ask you to reverse the timely filing denial and process the "
        "claim."
    ),
    DenialCategory.CODING.value: (
        "The procedure and diagnosis codes billed are supported by the medical record and "
        "follow current coding guidelines. The enclosed documentation shows the service "
        "as performed and the diagnosis that supports it. We ask you to review the coding "
        "and pay the claim."
    ),
    DenialCategory.COORDINATION_OF_BENEFITS.value: (
        "Your plan is responsible for this claim in the order of coverage on file for the "
        "date of service. The enclosed information (and any prior payer's explanation of "
        "benefits) shows the coverage order. We ask you to update your records and "
        "process the claim."
    ),
    DenialCategory.DUPLICATE.value: (
        "This claim is not a duplicate: it is for a separate, distinct service (or it "
        "replaces an earlier claim as noted). The enclosed records show the services "
        "billed. We ask you to process it as its own claim."
    ),
    DenialCategory.BUNDLING.value: (
        "The service denied as included in another was separate and distinct: it was "
        "performed at a different session, site or for a different problem, as the "
        "enclosed record documents. We ask you to pay it separately."
    ),
    DenialCategory.ELIGIBILITY.value: (
        "The patient was covered by your plan on the date of service, as the enclosed "
        "eligibility information shows. We ask you to reprocess the claim under that "
        "coverage."
    ),
}
GENERIC_ARGUMENT = (
    "We believe this claim was denied in error. The enclosed documents support the "
    "services billed. We ask you to review them and reconsider your decision."
)
# How a denial category reads in a letter, in our own words.
CATEGORY_WORDING: dict[str, str] = {
    DenialCategory.MEDICAL_NECESSITY.value: "not considered medically necessary",
    DenialCategory.AUTHORIZATION.value: "no authorization on file",
    DenialCategory.TIMELY_FILING.value: "considered filed after the filing limit",
    DenialCategory.CODING.value: "a coding or claim data problem",
    DenialCategory.COORDINATION_OF_BENEFITS.value: "another payer considered primary",
    DenialCategory.DUPLICATE.value: "considered a duplicate claim",
    DenialCategory.BUNDLING.value: "considered included in another service",
    DenialCategory.ELIGIBILITY.value: "coverage not found for the date of service",
    DenialCategory.MISSING_INFORMATION.value: "information considered missing",
    DenialCategory.CONTRACTUAL.value: "a contractual adjustment",
    DenialCategory.PATIENT_RESPONSIBILITY.value: "assigned to the patient",
    DenialCategory.OTHER.value: "denied",
}

DEFAULT_TEMPLATE = """\
<div class="sender">
  <strong>{{ practice.name }}</strong><br>
  {% for line in practice.address_lines %}{{ line }}<br>{% endfor %}
  NPI {{ provider.npi }} &middot; Tax id {{ practice.tax_id }}
</div>
<p class="date">{{ today }}</p>
<div class="recipient">
  {{ payer.name }}<br>
  {% for line in payer.appeal_address_lines %}{{ line }}<br>{% endfor %}
</div>
<p class="re"><strong>Re: {{ appeal.level_label }}, claim {{ claim.id }}</strong><br>
Patient: {{ patient.name }} &middot; Member id {{ patient.member_id }}
&middot; Born {{ patient.birth_date }}<br>
Payer claim number: {{ claim.payer_claim_number or "not yet assigned" }}
&middot; Our claim number: {{ claim.id }}<br>
Date of service: {{ claim.service_date }} &middot; Billed {{ claim.charge }}
&middot; Denied {{ denial.amount }}</p>
<p>To the appeals department:</p>
<p>We ask you to reconsider your decision of {{ denial.decision_date }} on this claim
({{ denial.category_wording }}{% if denial.codes %}:
{% for c in denial.codes %}{{ c.code }} {{ c.amount }}{% if not loop.last %}, {% endif %}
{%- endfor %}{% endif %}).</p>
<p>{{ argument }}</p>
<table class="lines">
  <thead><tr><th>Line</th><th>Date</th><th>Procedure</th><th>Modifiers</th><th>Units</th>
  <th>Charge</th></tr></thead>
  <tbody>
  {% for line in lines %}<tr><td>{{ line.number }}</td><td>{{ line.service_date }}</td>
  <td>{{ line.procedure_code }}</td><td>{{ line.modifiers }}</td><td>{{ line.units }}</td>
  <td>{{ line.charge }}</td></tr>
  {% endfor %}
  </tbody>
</table>
<p>Amount in dispute: <strong>{{ denial.amount }}</strong>.</p>
{% if enclosures %}<p>Enclosures:</p>
<ol class="enclosures">
{% for e in enclosures %}<li>{{ e.title }} ({{ e.kind_label }})</li>{% endfor %}
</ol>{% endif %}
<p>Please send your decision to the address above. Thank you.</p>
<p>Sincerely,<br><br>{{ signer.name }}<br>{{ practice.name }}</p>
"""


@dataclass(frozen=True)
class LineFacts:
    number: int
    procedure_code: str
    modifiers: list[str]
    units: Decimal
    charge: Decimal
    service_date: date


@dataclass(frozen=True)
class AdjustmentFacts:
    group: str
    reason: str
    amount: Decimal
    category: str


@dataclass(frozen=True)
class EnclosureFacts:
    title: str
    kind: str


@dataclass(frozen=True)
class LetterFacts:
    """Everything a letter says, read from the claim's rows by the store."""

    today: date
    practice_name: str
    practice_npi: str
    practice_tax_id: str
    practice_address_lines: list[str]
    payer_name: str
    payer_id: str
    appeal_address_lines: list[str]
    claim_id: str
    payer_claim_number: str
    patient_name: str
    member_id: str
    patient_birth_date: date | None
    service_date: date
    submitted_on: date
    charge: Decimal
    paid: Decimal
    balance: Decimal
    denied_amount: Decimal
    category: str
    decision_date: date | None
    level: int
    deadline: date | None
    signer_name: str
    diagnoses: list[str] = field(default_factory=list)
    lines: list[LineFacts] = field(default_factory=list)
    adjustments: list[AdjustmentFacts] = field(default_factory=list)
    enclosures: list[EnclosureFacts] = field(default_factory=list)


class TemplateProblem(ValueError):
    """A template that cannot be saved or rendered; the message names the field or line."""


def money(amount: Decimal) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def day(value: date | None) -> str:
    return value.strftime("%m/%d/%Y") if value is not None else "—"


def level_label(level: int) -> str:
    return LEVEL_LABELS.get(level, f"Level {level} appeal")


def category_label(category: str) -> str:
    return "every category" if category == ANY_CATEGORY else category.replace("_", " ")


def argument_for(category: str) -> str:
    return ARGUMENTS.get(category, GENERIC_ARGUMENT)


def letter_context(facts: LetterFacts) -> dict[str, object]:
    """What a template sees: plain strings, lists and dicts (dates and money formatted)."""
    return {
        "today": day(facts.today),
        "practice": {
            "name": facts.practice_name,
            "npi": facts.practice_npi,
            "tax_id": facts.practice_tax_id,
            "address_lines": list(facts.practice_address_lines),
            "address": ", ".join(facts.practice_address_lines),
        },
        # The billing provider on the claim: the practice (claims carry no rendering
        # provider of their own yet).
        "provider": {"name": facts.practice_name, "npi": facts.practice_npi},
        "payer": {
            "name": facts.payer_name,
            "id": facts.payer_id,
            "appeal_address_lines": list(facts.appeal_address_lines),
            "appeal_address": ", ".join(facts.appeal_address_lines),
        },
        "patient": {
            "name": facts.patient_name,
            "member_id": facts.member_id,
            "birth_date": day(facts.patient_birth_date),
        },
        "claim": {
            "id": facts.claim_id,
            "payer_claim_number": facts.payer_claim_number,
            "service_date": day(facts.service_date),
            "submitted_on": day(facts.submitted_on),
            "charge": money(facts.charge),
            "paid": money(facts.paid),
            "balance": money(facts.balance),
            "diagnoses": ", ".join(facts.diagnoses),
        },
        "lines": [
            {
                "number": line.number,
                "procedure_code": line.procedure_code,
                "modifiers": ", ".join(line.modifiers) or "—",
                "units": str(line.units.normalize()),
                "charge": money(line.charge),
                "service_date": day(line.service_date),
            }
            for line in facts.lines
        ],
        "denial": {
            "category": facts.category,
            "category_label": category_label(facts.category),
            "category_wording": CATEGORY_WORDING.get(facts.category, "denied"),
            "decision_date": day(facts.decision_date),
            "amount": money(facts.denied_amount),
            "codes": [
                {
                    "code": f"{a.group}-{a.reason}",
                    "amount": money(a.amount),
                    "wording": CATEGORY_WORDING.get(a.category, "denied"),
                }
                for a in facts.adjustments
            ],
        },
        "appeal": {
            "level": facts.level,
            "level_label": level_label(facts.level),
            "deadline": day(facts.deadline),
        },
        "argument": argument_for(facts.category),
        "enclosures": [
            {"title": e.title, "kind": e.kind, "kind_label": ATTACHMENT_KINDS.get(e.kind, e.kind)}
            for e in facts.enclosures
        ],
        "signer": {"name": facts.signer_name},
    }


def sample_facts(
    category: str = DenialCategory.MEDICAL_NECESSITY.value, level: int = 1
) -> LetterFacts:
    """A made-up claim (no real person) for previews and for checking templates."""
    return LetterFacts(
        today=date(2026, 3, 2),
        practice_name="Sample Family Practice",
        practice_npi="1234567893",
        practice_tax_id="123456789",
        practice_address_lines=["100 Main St", "Springfield, IL 62701"],
        payer_name="Sample Health Plan",
        payer_id="sample-plan",
        appeal_address_lines=["Appeals Unit", "PO Box 1000", "Capital City, ST 00000"],
        claim_id="SAMPLE-1",
        payer_claim_number="PCN0000001",
        patient_name="Pat Sample",
        member_id="M0000000",
        patient_birth_date=date(1970, 1, 1),
        service_date=date(2026, 1, 5),
        submitted_on=date(2026, 1, 7),
        charge=Decimal("250.00"),
        paid=Decimal("0.00"),
        balance=Decimal("250.00"),
        denied_amount=Decimal("250.00"),
        category=category if category != ANY_CATEGORY else DenialCategory.OTHER.value,
        decision_date=date(2026, 2, 1),
        level=level or 1,
        deadline=date(2026, 7, 31),
        signer_name="Sam Specialist",
        diagnoses=["R07.9"],
        lines=[
            LineFacts(1, "99214", ["25"], Decimal("1"), Decimal("180.00"), date(2026, 1, 5)),
            LineFacts(2, "93000", [], Decimal("1"), Decimal("70.00"), date(2026, 1, 5)),
        ],
        adjustments=[AdjustmentFacts("CO", "50", Decimal("250.00"), "medical_necessity")],
        enclosures=[EnclosureFacts("Office note 2026-01-05", "medical_records")],
    )


def sample_context(category: str = ANY_CATEGORY, level: int = ANY_LEVEL) -> dict[str, object]:
    return letter_context(sample_facts(category, level))


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


def _dotted(node: nodes.Node) -> str | None:
    """claim.id for Getattr(Name(claim), id); None for anything else (a call, an index)."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        inner = _dotted(node.node)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def _fields_used(tree: nodes.Template) -> Iterator[tuple[str, str, int]]:
    """Every dotted field read from the context, with its line: (as written, as a path
    in the context, line). A loop variable over a list of the context (`for line in
    lines`) reads that list's items (`lines[]`); other local names are not checked."""
    # Jinja's own names inside loops, macros and blocks.
    local: set[str] = {"loop", "self", "super", "caller", "varargs", "kwargs"}
    items: dict[str, str] = {}
    for loop in tree.find_all(nodes.For):
        source = _dotted(loop.iter)
        if isinstance(loop.target, nodes.Name) and source is not None:
            top, _, rest = source.partition(".")
            base = items.get(top, top) + (f".{rest}" if rest else "")
            items[loop.target.name] = f"{base}[]"
    for target in tree.find_all((nodes.For, nodes.Assign, nodes.Macro, nodes.With)):
        for name in target.find_all(nodes.Name):
            if name.ctx in ("store", "param") and name.name not in items:
                local.add(name.name)
    for node in tree.find_all((nodes.Getattr, nodes.Name)):
        if isinstance(node, nodes.Name) and node.ctx != "load":
            continue
        dotted = _dotted(node)
        if dotted is None:
            continue
        top, _, rest = dotted.partition(".")
        if top in local:
            continue
        path = items.get(top, top) + (f".{rest}" if rest else "")
        yield dotted, path, node.lineno


def _step(value: object, part: str) -> tuple[bool, object]:
    if part.endswith("[]"):
        ok, value = _step(value, part[:-2])
        if not ok or not isinstance(value, list) or not value:
            return False, None
        return True, value[0]
    if isinstance(value, dict) and part in value:
        return True, value[part]
    return False, None


def _unknown(path: str, context: dict[str, object]) -> bool:
    """Whether `path` names a field the context lacks. Only names within the context's
    own records count: `claim.id.upper` or `loop.index` are Python's or Jinja's."""
    value: object = context
    for part in path.split("."):
        if not isinstance(value, dict):
            return False
        ok, value = _step(value, part)
        if not ok:
            return True
    return False


def check_template(body: str) -> None:
    """Raise TemplateProblem unless `body` parses, uses only known fields and renders
    against the sample claim. The message names the unknown field and its line."""
    if not body.strip():
        raise TemplateProblem("the template is empty")
    if len(body) > MAX_TEMPLATE:
        raise TemplateProblem(f"the template is {len(body):,} characters; at most {MAX_TEMPLATE:,}")
    env = _environment()
    try:
        tree = env.parse(body)
    except TemplateSyntaxError as err:
        raise TemplateProblem(f"line {err.lineno}: {err.message}") from None
    context = sample_context()
    known_globals = set(env.globals)
    for dotted, path, line in _fields_used(tree):
        if "." not in dotted and dotted in known_globals:
            continue
        if _unknown(path, context):
            raise TemplateProblem(f"line {line}: unknown field {dotted!r}")
    render_template(body, context)


def render_template(body: str, context: dict[str, object]) -> str:
    """The letter's HTML; TemplateProblem names what did not render."""
    env = _environment()
    try:
        return env.from_string(body).render(context)
    except TemplateSyntaxError as err:
        raise TemplateProblem(f"line {err.lineno}: {err.message}") from None
    except UndefinedError as err:
        raise TemplateProblem(f"unknown field: {_undefined_name(err)}") from None
    except SecurityError as err:
        raise TemplateProblem(f"not allowed in a letter template: {err}") from None
    except Exception as err:  # noqa: BLE001 - any template error must come back in words
        raise TemplateProblem(
            f"the template does not render: {type(err).__name__}: {err}"
        ) from None


def _undefined_name(err: UndefinedError) -> str:
    # "'dict object' has no attribute 'x'" / "'x' is undefined": keep the name.
    message = str(err.message or err)
    if "has no attribute" in message:
        return repr(message.rsplit("attribute", 1)[1].strip().strip("'"))
    return message.replace(" is undefined", "")
