"""Code-set helpers: ICD-10-CM lookups, procedure and modifier shapes, NPI check digits.

ICD-10-CM comes from the `simple-icd-10-cm` package, which ships the CDC's
public code list. It holds one code-set year (the package's), not the one in
force on each date of service: a code retired since, on an old claim, shows
as unknown. CPT belongs to the AMA, so procedure codes are checked for shape
only; no descriptions are shipped.
"""

from __future__ import annotations

import re
import warnings
from enum import StrEnum
from functools import cache
from types import ModuleType

_ICD10_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")
# CPT: five digits (Category I), or four digits and F (Category II), T
# (Category III) or U (proprietary laboratory analyses). HCPCS Level II: a
# section letter A-V and four digits.
_PROCEDURE_SHAPE = re.compile(r"^(?:[0-9]{5}|[0-9]{4}[FTU]|[A-V][0-9]{4})$")
_MODIFIER_SHAPE = re.compile(r"^[A-Z0-9]{2}$")
# An NPI is an ISO 7812 card number whose issuer prefix 80840 is left off.
_NPI_PREFIX = "80840"


@cache
def _icd() -> ModuleType:
    # Imported on first use: loading the code tree takes about two seconds,
    # which importing denialflow.scrub (e.g. by the web app) should not pay.
    # Its loader uses importlib.resources.read_text, deprecated but working;
    # the warnings would only clutter every test run and log.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm

    return simple_icd_10_cm


def normalize_icd10(code: str) -> str:
    """The form the 837 carries: upper case, no dot, no surrounding blanks."""
    return code.strip().upper().replace(".", "")


class Icd10Status(StrEnum):
    BILLABLE = "billable"
    HEADER = "header"  # a real category or subcategory with codes beneath it
    UNKNOWN = "unknown"


def icd10_status(code: str) -> Icd10Status:
    """Whether a diagnosis code, with or without its dot, may go on a claim."""
    text = code.strip().upper()
    if not _ICD10_SHAPE.match(text):
        # Also refuses chapter numbers and block ranges ("E08-E13"), which the
        # package knows as items but which are not diagnosis codes.
        return Icd10Status.UNKNOWN
    icd = _icd()
    if not icd.is_valid_item(text) or not icd.is_category_or_subcategory(text):
        return Icd10Status.UNKNOWN
    return Icd10Status.BILLABLE if icd.is_leaf(text) else Icd10Status.HEADER


def icd10_children(code: str) -> list[str]:
    """Codes directly beneath a header code, with dots (empty for unknown codes)."""
    text = code.strip().upper()
    if icd10_status(text) is Icd10Status.UNKNOWN:
        return []
    return list(_icd().get_children(text))


def is_procedure_code(code: str) -> bool:
    """CPT (Category I, II, III, PLA) or HCPCS Level II by shape alone."""
    return bool(_PROCEDURE_SHAPE.match(code.strip().upper()))


def is_modifier(modifier: str) -> bool:
    return bool(_MODIFIER_SHAPE.match(modifier.strip().upper()))


def npi_check_digit(first_nine: str) -> str:
    """The tenth digit of an NPI: Luhn over 80840 followed by the first nine digits."""
    if len(first_nine) != 9 or not first_nine.isascii() or not first_nine.isdigit():
        raise ValueError(f"expected nine digits, got {first_nine!r}")
    total = 0
    # Luhn doubles every second digit counting leftwards from the check digit,
    # i.e. the rightmost digit of the payload is doubled.
    for position, char in enumerate(reversed(_NPI_PREFIX + first_nine)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_npi_shape(npi: str) -> bool:
    return len(npi) == 10 and npi.isascii() and npi.isdigit()


def is_valid_npi(npi: str) -> bool:
    """Ten digits whose last is the right check digit. Says nothing about enrollment."""
    return is_npi_shape(npi) and npi_check_digit(npi[:9]) == npi[9]
