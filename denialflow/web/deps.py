"""Request dependencies, in one place, as Annotated types for the routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from denialflow.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_engine_dep(request: Request) -> Engine:
    return request.app.state.engine


def get_session(engine: Annotated[Engine, Depends(get_engine_dep)]) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


async def get_temporal(request: Request) -> Client | None:
    """The Temporal client, connected on first use; None while Temporal is unreachable."""
    state = request.app.state
    if state.temporal is None:
        from denialflow.temporal import connect

        try:
            state.temporal = await connect(
                state.settings.temporal_address, state.settings.temporal_namespace
            )
        except Exception:  # noqa: BLE001 - health reports it; pages keep working from the DB
            return None
    return state.temporal


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
TemporalDep = Annotated[Client | None, Depends(get_temporal)]
