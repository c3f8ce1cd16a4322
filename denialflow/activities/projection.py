"""The local activity that writes one claim workflow step to the database."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from temporalio import activity

from denialflow.models.db import session_scope
from denialflow.store.projection import apply_projection
from denialflow.workflows import claim_contract as contract


class ProjectionActivities:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name=contract.ACTIVITY_PROJECT_CLAIM)
    def project_claim(self, projection: contract.Projection) -> None:
        with session_scope(self.engine) as session:
            apply_projection(session, projection)
