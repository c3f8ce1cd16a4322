"""A claim's identity as a payer's duplicate edit sees it (CARC 18)."""

from __future__ import annotations

import hashlib
import json
from datetime import date

from denialflow.scrub.models import ScrubClaim

# Bump when the recipe changes: fingerprints stored under an older recipe
# then stop matching instead of matching the wrong claims.
_RECIPE = 1


def _day(d: date | None) -> str:
    return d.isoformat() if d else ""


def fingerprint(claim: ScrubClaim) -> str:
    """SHA-256 hex of payer, member, provider NPIs, date of service and the lines.

    Lines are compared as (procedure, modifiers, units, charge, date), sorted, so
    the order lines were keyed in does not matter, nor the order of modifiers on
    a line, nor "1" versus "1.00" units. The NPIs are included because two
    clinicians of one practice may see the same patient on the same day for the
    same service, and that is not a duplicate. The claim id and frequency code
    are left out: a resend under a new id is still a duplicate.
    """
    lines = sorted(
        [
            line.procedure_code.strip().upper(),
            sorted(m.strip().upper() for m in line.modifiers),
            # normalize() alone would write 10 as 1E+1; format "f" keeps plain digits.
            format(line.units.normalize(), "f"),
            str(line.charge),
            _day(line.service_date or claim.service_date),
        ]
        for line in claim.lines
    )
    payload = {
        "recipe": _RECIPE,
        "payer": claim.payer_id.strip().upper(),
        "member": claim.member_id.strip().upper(),
        "billing_npi": claim.billing_npi.strip(),
        "rendering_npi": claim.rendering_npi.strip(),
        "service_date": _day(claim.service_date),
        "lines": lines,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
