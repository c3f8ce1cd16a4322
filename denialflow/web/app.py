"""The FastAPI application: one router per area."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from denialflow.models.db import get_engine
from denialflow.settings import Settings, get_settings
from denialflow.web.routers import files, health


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="denialflow", version="0.1.0")
    app.state.settings = settings
    app.state.engine = get_engine(settings.effective_database_url)
    app.state.temporal = None
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(health.router)
    app.include_router(files.router)
    return app
