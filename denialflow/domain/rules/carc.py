"""Routing of claim adjustment reason codes (CARC) to a denial category, a work
queue, a recommended next action and a likelihood of recovery.

The wording here is our own. X12 owns the official CARC descriptions, so we
ship only the codes with our categories and our next-action text; a practice
that licenses the official list can load it with `load_reason_descriptions`
to show descriptions next to codes. Remark codes (RARC: N..., M..., MA...)
are a different list and are not routed here.

The adjustment group changes the meaning of a code: under PR the patient
owes the amount whatever the code; under CO the provider absorbs it and the
patient may not be billed, so a cost-share code (1, 2, 3...) under CO is a
write-off, not a patient balance.

`route` and `primary_reason` are pure and deterministic (Temporal workflow
code calls them) and never raise on unknown or malformed codes: an
unrecognized reason becomes category OTHER, for a person to decide.
`load_reason_descriptions` reads a file and is for activities and the web
app only, never for workflow code.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from denialflow.domain import queues
from denialflow.domain.types import DenialCategory

__all__ = [
    "CATEGORY_DEFAULTS",
    "KNOWN_CODES",
    "QUEUES",
    "QUEUE_AUTHORIZATION",
    "QUEUE_CLINICAL",
    "QUEUE_COB",
    "QUEUE_CODING",
    "QUEUE_CONTRACTUAL",
    "QUEUE_ELIGIBILITY",
    "QUEUE_FOLLOW_UP",
    "QUEUE_PATIENT",
    "CategoryDefault",
    "ReasonRoute",
    "load_reason_descriptions",
    "normalize_code",
    "primary_reason",
    "route",
]

QUEUE_ELIGIBILITY = queues.ELIGIBILITY
QUEUE_AUTHORIZATION = queues.AUTHORIZATION
QUEUE_CODING = queues.CODING
QUEUE_CLINICAL = queues.CLINICAL
QUEUE_COB = queues.COB
QUEUE_FOLLOW_UP = queues.FOLLOW_UP
QUEUE_PATIENT = queues.PATIENT
QUEUE_CONTRACTUAL = queues.CONTRACTUAL

QUEUES: frozenset[str] = frozenset(
    {
        QUEUE_ELIGIBILITY,
        QUEUE_AUTHORIZATION,
        QUEUE_CODING,
        QUEUE_CLINICAL,
        QUEUE_COB,
        QUEUE_FOLLOW_UP,
        QUEUE_PATIENT,
        QUEUE_CONTRACTUAL,
    }
)


class CategoryDefault(NamedTuple):
    queue: str
    likelihood: Decimal
    next_action: str


_C = DenialCategory

# Likelihood is the share of such denials a team typically recovers; it ranks
# work, it is not a promise. A practice's own history should replace it.
CATEGORY_DEFAULTS: dict[DenialCategory, CategoryDefault] = {
    _C.ELIGIBILITY: CategoryDefault(
        QUEUE_ELIGIBILITY,
        Decimal("0.45"),
        "Verify coverage and benefits for the date of service; bill the right payer, "
        "or the patient where allowed.",
    ),
    _C.AUTHORIZATION: CategoryDefault(
        QUEUE_AUTHORIZATION,
        Decimal("0.55"),
        "Find the authorization on file or request a retro-authorization, then appeal "
        "or resubmit with the number.",
    ),
    _C.CODING: CategoryDefault(
        QUEUE_CODING,
        Decimal("0.75"),
        "Have a coder check codes, modifiers and diagnosis links against the record, "
        "then send a corrected claim (frequency 7).",
    ),
    _C.MEDICAL_NECESSITY: CategoryDefault(
        QUEUE_CLINICAL,
        Decimal("0.50"),
        "Appeal with the medical records and the payer's coverage policy.",
    ),
    _C.DUPLICATE: CategoryDefault(
        QUEUE_FOLLOW_UP,
        Decimal("0.20"),
        "Check the status of the original claim (276); do not resubmit.",
    ),
    _C.TIMELY_FILING: CategoryDefault(
        QUEUE_FOLLOW_UP,
        Decimal("0.15"),
        "Appeal only with proof of timely filing (e.g. the clearinghouse acceptance "
        "report); otherwise write off.",
    ),
    _C.MISSING_INFORMATION: CategoryDefault(
        QUEUE_FOLLOW_UP,
        Decimal("0.85"),
        "Read the remark codes, supply what is missing and resubmit; this is not an appeal.",
    ),
    _C.COORDINATION_OF_BENEFITS: CategoryDefault(
        QUEUE_COB,
        Decimal("0.70"),
        "Confirm the order of coverage with the patient, update it and bill the primary "
        "payer first.",
    ),
    _C.BUNDLING: CategoryDefault(
        QUEUE_CODING,
        Decimal("0.50"),
        "Check the bundling edit: if the record documents a distinct service add the "
        "right modifier and resubmit, otherwise write off.",
    ),
    _C.CONTRACTUAL: CategoryDefault(
        QUEUE_CONTRACTUAL,
        Decimal("0.10"),
        "Contractual write-off; compare the payment with the contracted rate to catch "
        "underpayments.",
    ),
    _C.PATIENT_RESPONSIBILITY: CategoryDefault(
        QUEUE_PATIENT,
        Decimal("0.60"),
        "Bill the patient, or the secondary coverage first if there is one.",
    ),
    _C.OTHER: CategoryDefault(
        QUEUE_FOLLOW_UP,
        Decimal("0.50"),
        "Unrecognized reason: read the remark codes and the payer's explanation, then "
        "decide the next step.",
    ),
}

# code -> (category, recommended next action), in our own words.
_REASONS: dict[str, tuple[DenialCategory, str]] = {
    # patient cost share
    "1": (_C.PATIENT_RESPONSIBILITY, "Deductible: bill the patient, or secondary coverage first."),
    "2": (_C.PATIENT_RESPONSIBILITY, "Coinsurance: bill the patient, or secondary coverage first."),
    "3": (
        _C.PATIENT_RESPONSIBILITY,
        "Copay: check whether it was collected at the visit; bill the patient or secondary.",
    ),
    "66": (_C.PATIENT_RESPONSIBILITY, "Blood deductible: bill the patient or secondary coverage."),
    "142": (_C.PATIENT_RESPONSIBILITY, "Medicaid share of cost: bill the patient."),
    "187": (
        _C.PATIENT_RESPONSIBILITY,
        "Paid from the patient's spending account (HSA/FSA): post it, bill any remainder.",
    ),
    # coding
    "4": (
        _C.CODING,
        "Add or correct the modifier this procedure needs and send a corrected claim (7).",
    ),
    "5": (
        _C.CODING,
        "Check the place of service (or bill type) against the procedure; correct and resubmit.",
    ),
    "6": (
        _C.CODING,
        "Check the birth date in registration and the procedure's age limits; correct "
        "and resubmit.",
    ),
    "7": (
        _C.CODING,
        "Check the patient's sex in registration and the procedure's edits; correct and "
        "resubmit, or appeal with records.",
    ),
    "8": (
        _C.CODING,
        "Check the rendering provider and taxonomy on the claim; correct and resubmit, or "
        "send enrollment problems to credentialing.",
    ),
    "9": (
        _C.CODING,
        "Check the birth date and the diagnosis age edits; correct the diagnosis or "
        "registration and resubmit.",
    ),
    "10": (
        _C.CODING,
        "Check the patient's sex in registration and the diagnosis edits; correct and resubmit.",
    ),
    "11": (
        _C.CODING,
        "Fix the diagnosis codes or pointers so they support the procedure, or appeal "
        "citing the coverage policy.",
    ),
    "12": (
        _C.CODING,
        "Check the provider type billed for this diagnosis; correct the claim or route "
        "to credentialing.",
    ),
    "58": (
        _C.CODING,
        "Check the place of service against where care was given; correct and resubmit, or appeal.",
    ),
    "146": (
        _C.CODING,
        "Recode with the diagnosis code set in effect on the date of service; send a "
        "corrected claim.",
    ),
    "150": (
        _C.CODING,
        "Have a coder compare the record with the level billed; appeal with records or "
        "rebill at the supported level.",
    ),
    "167": (
        _C.CODING,
        "Recode if the record supports a covered diagnosis; otherwise appeal with the "
        "coverage policy or bill the patient if allowed.",
    ),
    "181": (
        _C.CODING,
        "Recode with the procedure code set in effect on the date of service; send a "
        "corrected claim.",
    ),
    "182": (
        _C.CODING,
        "Use a modifier valid on the date of service and send a corrected claim.",
    ),
    "189": (
        _C.CODING,
        "Replace the unlisted code with the specific code that exists and send a corrected claim.",
    ),
    "199": (
        _C.CODING,
        "Make the revenue code and the procedure code agree; send a corrected claim.",
    ),
    "B15": (
        _C.CODING,
        "Bill the qualifying primary service (or link the add-on code to it), then resubmit.",
    ),
    "B16": (
        _C.CODING,
        "New-patient rules not met: rebill with an established-patient visit code.",
    ),
    # bundling
    "59": (
        _C.BUNDLING,
        "Multiple-procedure reduction: check the ranking and modifiers; write off the "
        "reduction if priced correctly.",
    ),
    "60": (
        _C.BUNDLING,
        "Outpatient service inside the inpatient payment window: bill it with the stay, "
        "or show it was unrelated.",
    ),
    "97": (
        _C.BUNDLING,
        "If the record documents a separate service add modifier 59 or XE/XS/XP/XU and "
        "resubmit; otherwise write off.",
    ),
    "190": (
        _C.BUNDLING,
        "Part of a skilled nursing facility stay: bill the facility, not the payer.",
    ),
    "231": (
        _C.BUNDLING,
        "These procedures are not paid together on one day: check documentation and "
        "modifiers, write off if not distinct.",
    ),
    "234": (
        _C.BUNDLING,
        "Never paid separately: write off unless the contract says otherwise.",
    ),
    "236": (
        _C.BUNDLING,
        "Check the NCCI modifier indicator: if a modifier is allowed and documented add "
        "it and resubmit, else write off.",
    ),
    "B14": (
        _C.BUNDLING,
        "One visit per provider per day: combine the visits, or appeal with documentation "
        "of separate care.",
    ),
    # missing or wrong information
    "16": (
        _C.MISSING_INFORMATION,
        "Read the remark codes to see what is missing, add it and resubmit; not an appeal.",
    ),
    "107": (
        _C.MISSING_INFORMATION,
        "Add or reference the related qualifying service the payer needs, then resubmit.",
    ),
    "110": (
        _C.MISSING_INFORMATION,
        "The billing date precedes the service date: correct the dates and resubmit.",
    ),
    "125": (
        _C.MISSING_INFORMATION,
        "Claim data error: read the remark codes, correct the claim and resubmit.",
    ),
    "148": (
        _C.MISSING_INFORMATION,
        "Get the missing information from the other provider and resubmit.",
    ),
    "163": (
        _C.MISSING_INFORMATION,
        "The attachment never arrived: send it with the payer's claim number and ask for "
        "reprocessing.",
    ),
    "164": (_C.MISSING_INFORMATION, "The attachment was incomplete: send the full documentation."),
    "183": (
        _C.MISSING_INFORMATION,
        "Check the referring provider's NPI and enrollment (e.g. PECOS); correct and resubmit.",
    ),
    "184": (
        _C.MISSING_INFORMATION,
        "Check the ordering or prescribing provider's NPI and enrollment; correct and resubmit.",
    ),
    "206": (_C.MISSING_INFORMATION, "Add the missing NPI and resubmit."),
    "207": (_C.MISSING_INFORMATION, "Correct the invalid NPI and resubmit."),
    "208": (
        _C.MISSING_INFORMATION,
        "The NPI does not match the payer's provider file: check NPI and enrollment, "
        "correct and resubmit.",
    ),
    "226": (
        _C.MISSING_INFORMATION,
        "Information the payer asked us for was late or short: send it now and ask for "
        "reprocessing, or appeal.",
    ),
    "227": (
        _C.MISSING_INFORMATION,
        "The payer is waiting on the patient (e.g. an accident or other-coverage "
        "questionnaire): ask them to answer, then follow up.",
    ),
    "251": (
        _C.MISSING_INFORMATION,
        "The records sent lacked what the payer needs: send the required documentation.",
    ),
    "252": (
        _C.MISSING_INFORMATION,
        "Send the required attachment (275 or payer portal) referencing the claim.",
    ),
    # duplicates
    "18": (
        _C.DUPLICATE,
        "Check the original claim's status (276) and do not resubmit; if the services "
        "really differ, send a corrected claim showing why.",
    ),
    "B13": (
        _C.DUPLICATE,
        "Already paid on an earlier remittance: find and post that payment; do not resubmit.",
    ),
    "B20": (
        _C.DUPLICATE,
        "Another provider billed all or part of this service: check global periods and "
        "split-care modifiers (54/55/56), then correct or appeal.",
    ),
    # timely filing
    "29": (
        _C.TIMELY_FILING,
        "Appeal only with proof of timely filing (e.g. the clearinghouse acceptance "
        "report); otherwise write off.",
    ),
    "138": (
        _C.TIMELY_FILING,
        "The appeal was late or skipped a step: check the dates; resubmit only with proof "
        "it was timely, else write off.",
    ),
    "B4": (
        _C.TIMELY_FILING,
        "Late-filing reduction: appeal only with proof of timely filing, else write off.",
    ),
    # eligibility and benefits
    "13": (
        _C.ELIGIBILITY,
        "Verify the date of death and the dates of service with registration; correct "
        "the record or the claim.",
    ),
    "14": (
        _C.ELIGIBILITY,
        "Correct the birth date (often a newborn registered wrongly) and resubmit.",
    ),
    "24": (
        _C.ELIGIBILITY,
        "The patient is in a capitated or managed care plan (e.g. Medicare Advantage): "
        "verify enrollment and bill that plan.",
    ),
    "26": (
        _C.ELIGIBILITY,
        "Coverage had not started yet: verify eligibility, find the coverage in force, "
        "or bill the patient.",
    ),
    "27": (
        _C.ELIGIBILITY,
        "Coverage had ended: verify eligibility, find other coverage, or bill the patient.",
    ),
    "31": (
        _C.ELIGIBILITY,
        "The payer cannot find the patient: check member ID, name and birth date against "
        "the card and resubmit.",
    ),
    "32": (
        _C.ELIGIBILITY,
        "The dependent is not on the policy: verify with the subscriber, find other "
        "coverage or bill the patient.",
    ),
    "33": (
        _C.ELIGIBILITY,
        "The policy has no dependent coverage: find the patient's own coverage or bill "
        "the patient.",
    ),
    "34": (
        _C.ELIGIBILITY,
        "The newborn is not on the policy: have the parent add the baby, or bill the right plan.",
    ),
    "35": (
        _C.ELIGIBILITY,
        "Lifetime maximum reached: bill secondary coverage or the patient.",
    ),
    "49": (
        _C.ELIGIBILITY,
        "Routine or preventive care not covered: if the visit was problem-oriented fix "
        "the coding, else bill the patient if allowed.",
    ),
    "51": (
        _C.ELIGIBILITY,
        "Pre-existing condition exclusion: appeal if it does not apply, else bill the "
        "patient if allowed.",
    ),
    "96": (
        _C.ELIGIBILITY,
        "Check the patient's benefits for this service; bill the patient only if allowed "
        "(signed waiver or ABN), else write off.",
    ),
    "109": (
        _C.ELIGIBILITY,
        "This payer is not responsible: find the right payer, plan or contractor and bill it.",
    ),
    "119": (
        _C.ELIGIBILITY,
        "Benefit maximum for the period reached: bill secondary coverage or the patient.",
    ),
    "140": (
        _C.ELIGIBILITY,
        "Name and member ID do not match: correct them from the insurance card and resubmit.",
    ),
    "149": (
        _C.ELIGIBILITY,
        "Lifetime maximum for this benefit reached: bill secondary coverage or the patient.",
    ),
    "160": (
        _C.ELIGIBILITY,
        "The cause of injury is excluded by the plan: verify the details; appeal if wrong, "
        "else bill another carrier or the patient.",
    ),
    "177": (
        _C.ELIGIBILITY,
        "The patient did not meet the plan's eligibility rules: verify, find other "
        "coverage or bill the patient.",
    ),
    "200": (
        _C.ELIGIBILITY,
        "Service during a lapse in coverage: verify dates with the payer, then bill other "
        "coverage or the patient.",
    ),
    "204": (
        _C.ELIGIBILITY,
        "Not a benefit of the patient's plan: check benefits; bill the patient only if allowed.",
    ),
    "239": (
        _C.ELIGIBILITY,
        "The claim spans covered and uncovered dates: split it at the coverage date and "
        "rebill each part.",
    ),
    "242": (
        _C.ELIGIBILITY,
        "Out-of-network service: check network status, request a network exception or "
        "appeal, else bill the patient if allowed.",
    ),
    "B1": (
        _C.ELIGIBILITY,
        "Visits not covered by the plan: check benefits; bill the patient if allowed.",
    ),
    "B9": (
        _C.ELIGIBILITY,
        "Patient in hospice: if unrelated to the terminal condition rebill with modifier "
        "GW, else bill the hospice.",
    ),
    # authorization
    "15": (
        _C.AUTHORIZATION,
        "Match the authorization number to this service, provider and dates; correct it "
        "and resubmit.",
    ),
    "39": (
        _C.AUTHORIZATION,
        "The authorization request was turned down: appeal that decision with clinical records.",
    ),
    "61": (
        _C.AUTHORIZATION,
        "A required second opinion is missing: appeal with documentation or write off "
        "per contract.",
    ),
    "95": (
        _C.AUTHORIZATION,
        "A plan step (referral, notification) was skipped: complete it and appeal.",
    ),
    "165": (
        _C.AUTHORIZATION,
        "Referral missing or used up: get one from the primary care provider, then "
        "resubmit or appeal.",
    ),
    "197": (
        _C.AUTHORIZATION,
        "Find the authorization on file or request a retro-authorization; then appeal or "
        "resubmit with the number.",
    ),
    "198": (
        _C.AUTHORIZATION,
        "More was done than authorized: request an extension or retro-authorization for "
        "the extra units, then appeal.",
    ),
    "210": (
        _C.AUTHORIZATION,
        "The authorization came too late: appeal with the reason for the delay, or write "
        "off per contract.",
    ),
    "243": (
        _C.AUTHORIZATION,
        "Not authorized by the network or primary care provider: obtain the referral and appeal.",
    ),
    # medical necessity
    "40": (
        _C.MEDICAL_NECESSITY,
        "Did not qualify as emergent or urgent: appeal with records of the presenting symptoms.",
    ),
    "50": (
        _C.MEDICAL_NECESSITY,
        "Appeal with the medical records and the coverage policy (LCD/NCD for Medicare).",
    ),
    "55": (
        _C.MEDICAL_NECESSITY,
        "Considered experimental: appeal with clinical evidence, or bill the patient if "
        "they agreed in writing.",
    ),
    "56": (
        _C.MEDICAL_NECESSITY,
        "Considered unproven: appeal with clinical evidence and records, or bill the "
        "patient if they agreed in writing.",
    ),
    "151": (
        _C.MEDICAL_NECESSITY,
        "Appeal with documentation that supports the frequency or number of units.",
    ),
    "152": (
        _C.MEDICAL_NECESSITY,
        "Appeal the length of stay with clinical documentation.",
    ),
    "153": (
        _C.MEDICAL_NECESSITY,
        "Check the units billed against the order; correct them, or appeal the dosage "
        "with clinical notes.",
    ),
    "B5": (
        _C.MEDICAL_NECESSITY,
        "Coverage criteria not met: appeal with records showing the policy's criteria are met.",
    ),
    "B12": (
        _C.MEDICAL_NECESSITY,
        "The payer found no documentation of the service: send the records or appeal.",
    ),
    # coordination of benefits
    "19": (
        _C.COORDINATION_OF_BENEFITS,
        "Work-related: bill the workers' compensation carrier (claim number from the "
        "patient or employer).",
    ),
    "20": (
        _C.COORDINATION_OF_BENEFITS,
        "Injury covered by a liability carrier: get the claim details and bill it.",
    ),
    "21": (
        _C.COORDINATION_OF_BENEFITS,
        "Bill the no-fault (auto) carrier first; rebill here with its decision if "
        "benefits run out.",
    ),
    "22": (
        _C.COORDINATION_OF_BENEFITS,
        "Confirm the coverage order with the patient, update it and bill the primary payer.",
    ),
    "129": (
        _C.COORDINATION_OF_BENEFITS,
        "The prior-payer data on the claim is wrong: copy it from the primary's "
        "remittance and resubmit.",
    ),
    "136": (
        _C.COORDINATION_OF_BENEFITS,
        "The primary payer's rules were not followed: satisfy them, then rebill primary "
        "and secondary.",
    ),
    "228": (
        _C.COORDINATION_OF_BENEFITS,
        "A previous payer is missing requested information: supply it there, then rebill.",
    ),
    # contractual and informational adjustments
    "23": (
        _C.CONTRACTUAL,
        "Reflects what an earlier payer paid or adjusted; no work unless the balance does "
        "not reconcile.",
    ),
    "42": (
        _C.CONTRACTUAL,
        "Charges above the fee schedule or maximum allowable (retired in favour of 45): "
        "contractual write-off.",
    ),
    "45": (
        _C.CONTRACTUAL,
        "Contractual write-off; compare the allowed amount with the contracted rate to "
        "catch underpayments.",
    ),
    "104": (_C.CONTRACTUAL, "Managed care withhold per contract: reconcile at settlement."),
    "131": (
        _C.CONTRACTUAL,
        "Negotiated discount for this claim: confirm it matches the agreement and write off.",
    ),
    "209": (
        _C.CONTRACTUAL,
        "The patient may not be billed for this amount: write it off, and refund it if "
        "it was collected.",
    ),
    "237": (
        _C.CONTRACTUAL,
        "Regulatory payment adjustment (e.g. a quality program penalty): write off and "
        "report it to the practice.",
    ),
    "246": (_C.CONTRACTUAL, "Reporting-only code: nothing is payable; no work needed."),
    "253": (
        _C.CONTRACTUAL,
        "Sequestration cut of the federal payment: write off; do not bill the patient.",
    ),
    # a person decides
    "100": (
        _C.OTHER,
        "The payer paid the patient directly: bill the patient for the amount they received.",
    ),
    "115": (
        _C.OTHER,
        "Shown as postponed or canceled: confirm it was performed; void the line if not, "
        "else correct the dates and resubmit.",
    ),
    "133": (
        _C.OTHER,
        "Pended for payer review: wait, and follow up if no decision arrives in the "
        "payer's time frame.",
    ),
    "147": (
        _C.OTHER,
        "No contracted rate on file: ask provider relations to load the fee schedule, "
        "then request reprocessing.",
    ),
    "155": (
        _C.OTHER,
        "The patient declined the service: confirm; void the line if it was not performed.",
    ),
    "185": (
        _C.OTHER,
        "The rendering provider is not eligible for this service: check credentialing and "
        "enrollment before rebilling.",
    ),
    "193": (
        _C.OTHER,
        "The payer upheld its decision: decide on the next appeal level before its deadline.",
    ),
    "256": (
        _C.OTHER,
        "Not payable under the managed care contract: check the contract; dispute if it "
        "covers the service, else write off.",
    ),
    "A1": (
        _C.OTHER,
        "Generic denial: the remark codes carry the real reason; read them and route the "
        "claim accordingly.",
    ),
    "B7": (
        _C.OTHER,
        "The provider was not certified for this service on that date: check enrollment "
        "and effective dates before rebilling.",
    ),
    "B11": (
        _C.OTHER,
        "Forwarded to the proper payer or processor: follow up with that one.",
    ),
}

KNOWN_CODES: frozenset[str] = frozenset(_REASONS)

_PR_DENIAL_ACTION = (
    "The payer made the patient responsible for this denied amount: make sure any "
    "required waiver or notice is on file, then bill the patient or secondary coverage."
)
_CO_COST_SHARE_ACTION = (
    "Cost share assigned to the provider (group CO): the patient may not be billed; "
    "write off, and ask the payer if it was unexpected."
)

# Categories that do not explain a denial: agreed reductions and the patient's share.
_NOT_DENIALS = frozenset({_C.CONTRACTUAL, _C.PATIENT_RESPONSIBILITY})

# A CARC is one to three digits, or one letter and one or two digits (A1, B7, P12).
# A remark code such as N130 or MA130 does not fit.
_CODE_RE = re.compile(r"[0-9]{1,3}|[A-Z][0-9]{1,2}")
_ZERO_PADDED_RE = re.compile(r"([A-Z]?)([0-9]{1,8})")
_GROUPS = frozenset({"CO", "PR", "OA", "PI", "CR"})


class ReasonRoute(BaseModel):
    """Where a denial reason goes and what to do about it.

    `code` is the normalized reason code (as received when malformed), `group`
    the normalized adjustment group ("" when missing or unknown), and
    `likelihood` the category's likelihood of recovery.
    """

    model_config = ConfigDict(frozen=True)

    code: str
    category: DenialCategory
    queue: str
    next_action: str
    likelihood: Decimal
    group: str = ""


def normalize_code(code: str) -> str:
    """Upper case, no surrounding blanks, no leading zeros ("045" -> "45", "b07" -> "B7").

    Anything that does not look like a reason code is returned stripped and
    upper-cased, so callers can still show what they received.
    """
    text = "" if code is None else str(code).strip().upper()
    match = _ZERO_PADDED_RE.fullmatch(text)
    if match is None:
        return text
    return f"{match.group(1)}{int(match.group(2))}"


def _is_well_formed(code: str) -> bool:
    return _CODE_RE.fullmatch(code) is not None


def _make(code: str, group: str, category: DenialCategory, action: str | None) -> ReasonRoute:
    default = CATEGORY_DEFAULTS[category]
    return ReasonRoute(
        code=code,
        group=group,
        category=category,
        queue=default.queue,
        next_action=action or default.next_action,
        likelihood=default.likelihood,
    )


def route(group: str, code: str) -> ReasonRoute:
    """Route one adjustment (group code such as "CO", reason code such as "197").

    Never raises: an unknown, empty or malformed code gives category OTHER
    with the generic action. Group PR makes any well-formed code the
    patient's responsibility; under CO a cost-share code becomes a
    contractual write-off because the patient may not be billed.
    """
    grp = "" if group is None else str(group).strip().upper()
    grp = grp if grp in _GROUPS else ""
    norm = normalize_code(code)
    if not _is_well_formed(norm):
        return _make(norm, grp, _C.OTHER, None)
    known = _REASONS.get(norm)
    if grp == "PR":
        if known is not None and known[0] is _C.PATIENT_RESPONSIBILITY:
            return _make(norm, grp, _C.PATIENT_RESPONSIBILITY, known[1])
        return _make(norm, grp, _C.PATIENT_RESPONSIBILITY, _PR_DENIAL_ACTION)
    if known is None:
        return _make(norm, grp, _C.OTHER, None)
    category, action = known
    if grp == "CO" and category is _C.PATIENT_RESPONSIBILITY:
        return _make(norm, grp, _C.CONTRACTUAL, _CO_COST_SHARE_ACTION)
    return _make(norm, grp, category, action)


def _to_amount(value: object) -> Decimal:
    # Lenient on purpose: a bad amount must not fail a workflow task; it
    # simply cannot win the comparison.
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return Decimal(0)
    return amount if amount.is_finite() else Decimal(0)


def _unpack(item: object) -> tuple[str, str, object]:
    if isinstance(item, tuple | list):
        if len(item) != 3:
            raise TypeError(f"expected (group, code, amount), got {item!r}")
        return item[0], item[1], item[2]
    # AdjustmentIn-like objects: group, reason, amount.
    group = getattr(item, "group", None)
    return (
        getattr(group, "value", group),
        getattr(item, "reason", getattr(item, "code", None)),
        getattr(item, "amount", None),
    )


def primary_reason(adjustments: Iterable[object]) -> ReasonRoute | None:
    """The reason that best explains a claim's denial, or None.

    `adjustments` are (group, code, amount) tuples (objects with `group`,
    `reason` and `amount`, like AdjustmentIn, work too). Contractual
    adjustments and the patient's share are skipped; amounts of the same
    group and code are added up across lines; the largest total wins, ties
    going to the one listed first. None when nothing else is left.
    """
    totals: dict[tuple[str, str], Decimal] = {}
    routes: dict[tuple[str, str], ReasonRoute] = {}
    for item in adjustments:
        group, code, amount = _unpack(item)
        found = route(group, code)
        if found.category in _NOT_DENIALS:
            continue
        key = (found.group, found.code)
        totals[key] = totals.get(key, Decimal(0)) + _to_amount(amount)
        routes.setdefault(key, found)
    if not totals:
        return None
    # max() keeps the first of equal totals, and dicts keep insertion order.
    return routes[max(totals, key=totals.__getitem__)]


def load_reason_descriptions(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read an official CARC list the user supplies: code -> description.

    The file is CSV (comma) or tab-separated, UTF-8 (a byte-order mark is
    fine). An optional header row naming `code` and `description` columns may
    carry extra columns, which are ignored; without a header every row must
    have exactly two columns (quote descriptions that contain commas). Blank
    lines are skipped; codes are normalized like `route` does ("045" -> "45").

    Raises ValueError naming the file and line for a malformed row, a
    duplicate code or a file with no codes; OSError when it cannot be read.
    Does I/O: call it from activities or the web app, never from workflows.
    """
    name = os.fspath(path)
    with open(name, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc

    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if "\t" in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)

    descriptions: dict[str, str] = {}
    seen_on: dict[str, int] = {}
    code_col, desc_col, width = 0, 1, 2
    header_done = False
    while True:
        line = reader.line_num + 1  # where the next record starts
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ValueError(f"{name}: line {line}: {exc}") from exc
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        # Spreadsheet exports often pad rows with empty trailing cells.
        while len(cells) > width and not cells[-1]:
            cells.pop()
        if not header_done:
            header_done = True
            lowered = [cell.lower() for cell in cells]
            if "code" in lowered and "description" in lowered:
                code_col, desc_col = lowered.index("code"), lowered.index("description")
                width = len(cells)
                continue
        if len(cells) != width:
            raise ValueError(
                f"{name}: line {line}: expected {width} columns, found {len(cells)}"
                + ("; quote descriptions that contain commas" if delimiter == "," else "")
            )
        code, description = normalize_code(cells[code_col]), cells[desc_col]
        if not _is_well_formed(code):
            raise ValueError(f"{name}: line {line}: {cells[code_col]!r} is not a reason code")
        if not description:
            raise ValueError(f"{name}: line {line}: code {code} has no description")
        if code in descriptions:
            raise ValueError(
                f"{name}: line {line}: code {code} is already defined on line {seen_on[code]}"
            )
        descriptions[code] = description
        seen_on[code] = line
    if not descriptions:
        raise ValueError(f"{name}: no reason codes found")
    return descriptions
