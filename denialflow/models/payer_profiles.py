"""The example payer profiles shipped as defaults (denialflow/data/payer_profiles.yaml),
and the 837P claim filing indicator codes (SBR09) a payer may carry."""

from __future__ import annotations

from importlib import resources

import yaml
from pydantic import BaseModel, Field, field_validator

from denialflow.domain.types import PayerRules

# 837P loop 2000B SBR09, the claim filing indicator: what kind of coverage the claim is
# billed under. The 005010X222A1 code list, the same one edi/outbound.py accepts (a test
# keeps the two alike). A wrong code is a front-door rejection (277CA).
FILING_INDICATORS: dict[str, str] = {
    "11": "Other non-federal programs",
    "12": "Preferred provider organization (PPO)",
    "13": "Point of service (POS)",
    "14": "Exclusive provider organization (EPO)",
    "15": "Indemnity insurance",
    "16": "HMO Medicare risk (Medicare Advantage)",
    "17": "Dental maintenance organization",
    "AM": "Automobile medical",
    "BL": "Blue Cross/Blue Shield",
    "CH": "CHAMPUS (TRICARE)",
    "CI": "Commercial insurance",
    "DS": "Disability",
    "FI": "Federal Employees Program",
    "HM": "Health maintenance organization (HMO)",
    "LM": "Liability medical",
    "MA": "Medicare Part A",
    "MB": "Medicare Part B",
    "MC": "Medicaid",
    "OF": "Other federal program",
    "TV": "Title V",
    "VA": "Veterans Affairs plan",
    "WC": "Workers' compensation",
    "ZZ": "Mutually defined (unknown)",
}
# The codes most professional claims carry, shown first where a person picks one.
COMMON_FILING_INDICATORS: tuple[str, ...] = ("CI", "MB", "MC", "BL", "HM", "16", "CH", "WC")


class PayerProfile(BaseModel):
    id: str
    name: str
    kind: str
    notes: str = ""
    # An example: each clearinghouse lists its own payer ids, and the practice sets the
    # one it uses on the payer's admin page.
    x12_payer_id: str = Field(default="", max_length=80)
    claim_filing_indicator: str = "CI"
    rules: PayerRules

    @field_validator("claim_filing_indicator")
    @classmethod
    def _known_code(cls, code: str) -> str:
        if code not in FILING_INDICATORS:
            raise ValueError(f"{code!r} is not an 837 SBR09 claim filing indicator")
        return code


def default_profiles() -> list[PayerProfile]:
    text = resources.files("denialflow.data").joinpath("payer_profiles.yaml").read_text()
    return [PayerProfile(id=key, **value) for key, value in yaml.safe_load(text).items()]
