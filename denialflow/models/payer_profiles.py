"""The example payer profiles shipped as defaults (denialflow/data/payer_profiles.yaml)."""

from __future__ import annotations

from importlib import resources

import yaml
from pydantic import BaseModel

from denialflow.domain.types import PayerRules


class PayerProfile(BaseModel):
    id: str
    name: str
    kind: str
    notes: str = ""
    rules: PayerRules


def default_profiles() -> list[PayerProfile]:
    text = resources.files("denialflow.data").joinpath("payer_profiles.yaml").read_text()
    return [PayerProfile(id=key, **value) for key, value in yaml.safe_load(text).items()]
