"""The local activity that writes one claim workflow step to the database."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from temporalio import activity

from denialflow.activities.accounts import AccountTeller, patient_balance_of
from denialflow.domain.types import ZERO
from denialflow.models.db import session_scope
from denialflow.models.tables import Claim
from denialflow.store.projection import apply_projection
from denialflow.workflows import claim_contract as contract

log = logging.getLogger(__name__)


class ProjectionActivities:
    # Set by the worker: tells the claim's patient account its new balance.
    teller: AccountTeller | None = None

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name=contract.ACTIVITY_PROJECT_CLAIM)
    def project_claim(self, projection: contract.Projection) -> None:
        with session_scope(self.engine) as session:
            before = patient_balance_of(session.get(Claim, projection.claim_id))
            apply_projection(session, projection)
            after = patient_balance_of(session.get(Claim, projection.claim_id))
        self._tell_account(before, after, projection)

    def _tell_account(self, before: tuple, after: tuple, projection: contract.Projection) -> None:
        """After the commit: when the claim's patient balance (what the patient owes, its
        status or what payers still owe) changed, its account hears its new balance. A
        retry tells it whatever it finds (the first attempt may have committed the change
        and then failed to tell): the same balance twice changes nothing in the cycle."""
        account_id = after[0]
        if self.teller is None or account_id is None:
            return
        if activity.info().attempt <= 1:
            owed = before[1] > ZERO or after[1] > ZERO
            if not owed or before == after:
                return
        try:
            self.teller.balance_changed(account_id, projection.at)
        except ValueError as err:  # the statement settings are unusable: the claim goes on
            log.error("account %s was not told its balance: %s", account_id, err)
