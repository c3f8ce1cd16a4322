"""Configuration from the environment (or a .env file); defaults run everything on one machine."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    var_dir: Path = Field(default=Path("var"), alias="DENIALFLOW_VAR_DIR")
    database_url: str = Field(default="", alias="DATABASE_URL")
    temporal_address: str = Field(default="127.0.0.1:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    task_queue: str = Field(default="denialflow", alias="DENIALFLOW_TASK_QUEUE")
    web_host: str = Field(default="127.0.0.1", alias="DENIALFLOW_WEB_HOST")
    web_port: int = Field(default=8000, alias="DENIALFLOW_WEB_PORT")
    temporal_ui_port: int = Field(default=8233, alias="DENIALFLOW_TEMPORAL_UI_PORT")
    # How long one database projection may take before Temporal retries it elsewhere.
    activity_timeout_seconds: int = Field(default=30, alias="DENIALFLOW_ACTIVITY_TIMEOUT")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / 'denialflow.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
