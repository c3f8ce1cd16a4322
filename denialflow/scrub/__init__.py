"""Claim scrubbing: pure checks run on every claim before its 837P is written."""

from denialflow.scrub.checks import CHECKS, scrub
from denialflow.scrub.codes import is_valid_npi, normalize_icd10
from denialflow.scrub.fingerprint import fingerprint
from denialflow.scrub.models import Problem, ScrubClaim, ScrubContext, ScrubLine

__all__ = [
    "CHECKS",
    "Problem",
    "ScrubClaim",
    "ScrubContext",
    "ScrubLine",
    "fingerprint",
    "is_valid_npi",
    "normalize_icd10",
    "scrub",
]
