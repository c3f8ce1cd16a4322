"""Configuration from the environment (or a .env file); defaults run everything on one machine."""

from __future__ import annotations

import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

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
    # Set when the web app is served over HTTPS (behind a proxy): cookies then only
    # travel encrypted.
    secure_cookies: bool = Field(default=False, alias="DENIALFLOW_SECURE_COOKIES")
    temporal_ui_port: int = Field(default=8233, alias="DENIALFLOW_TEMPORAL_UI_PORT")
    # The Temporal UI's origin as the browser shows it ("https://temporal.example.org"):
    # the only page allowed to call the codec endpoint (/codec) with an admin's session
    # cookie. Empty: the UI `denialflow up` runs, http://127.0.0.1:<temporal UI port>.
    temporal_ui_origin: str = Field(default="", alias="DENIALFLOW_TEMPORAL_UI_ORIGIN")
    # Sign-in sessions end after this long without a request, and after this long in
    # all, whatever the activity (a shared front-desk screen is not signed in forever).
    session_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, alias="DENIALFLOW_SESSION_IDLE_MINUTES"
    )
    session_absolute_hours: int = Field(
        default=12, ge=1, le=24 * 30, alias="DENIALFLOW_SESSION_ABSOLUTE_HOURS"
    )
    # Keys that encrypt every Temporal payload (workflows/codec.py): comma-separated
    # "key-id:base64 of 32 bytes", the first encrypts, all decrypt (rotation). Empty:
    # a key is made once in var/payload-keys (readable by its owner only).
    payload_keys: str = Field(default="", alias="DENIALFLOW_PAYLOAD_KEYS", repr=False)
    # Claim workflows the worker keeps in memory between their events (about 70 KiB
    # each): a claim evicted from the cache replays its history on its next payment.
    # The default holds 10,000 open claims in about 800 MiB; lower it on a small machine.
    max_cached_workflows: int = Field(
        default=10_000, ge=10, le=1_000_000, alias="DENIALFLOW_MAX_CACHED_WORKFLOWS"
    )
    # How long one database projection may take before Temporal retries it elsewhere.
    activity_timeout_seconds: int = Field(default=30, alias="DENIALFLOW_ACTIVITY_TIMEOUT")
    # How long an action waits for a worker to take it before the person is told the
    # system is busy (the action then waits as pending; see claim_client._update).
    action_wait_seconds: float = Field(
        default=5.0, ge=0.5, le=120, alias="DENIALFLOW_ACTION_WAIT_SECONDS"
    )
    # The clearinghouse mailbox: files dropped in inbound/ are taken in by the worker;
    # generated 837P and 276 files are written to outbound/.
    inbound_dir: Path | None = Field(default=None, alias="DENIALFLOW_INBOUND_DIR")
    outbound_dir: Path | None = Field(default=None, alias="DENIALFLOW_OUTBOUND_DIR")
    inbound_poll_seconds: float = Field(default=5.0, alias="DENIALFLOW_INBOUND_POLL")
    # The billing provider on outbound claims. The defaults are demo values (the NPI is
    # the CMS documentation example): set your own before sending anything real.
    practice_name: str = Field(default="Demo Family Practice", alias="DENIALFLOW_PRACTICE_NAME")
    practice_npi: str = Field(default="1234567893", alias="DENIALFLOW_PRACTICE_NPI")
    practice_tax_id: str = Field(default="123456789", alias="DENIALFLOW_PRACTICE_TAX_ID")
    practice_address: str = Field(default="100 Main St", alias="DENIALFLOW_PRACTICE_ADDRESS")
    practice_city: str = Field(default="Springfield", alias="DENIALFLOW_PRACTICE_CITY")
    practice_state: str = Field(default="IL", alias="DENIALFLOW_PRACTICE_STATE")
    # ZIP+4, nine digits: the 837P requires it for the billing provider.
    practice_zip: str = Field(default="627010001", alias="DENIALFLOW_PRACTICE_ZIP")
    # The practice's own clock: "today", "due today" and the times on every page are
    # read in this zone (deadlines are calendar dates in it).
    practice_timezone: str = Field(default="America/Chicago", alias="DENIALFLOW_TIMEZONE")
    # Printed on patient statements: where patients call with questions.
    practice_phone: str = Field(default="(217) 555-0100", alias="DENIALFLOW_PRACTICE_PHONE")
    # Patient statement cycles (domain/patient/statement_cycle.py CyclePolicy): reminders
    # this many days after the first statement ("30,60,90"), the final notice, the day a
    # person reviews the account for collections, how long a partial payment holds the
    # next step off, and the balance under which it is written off instead of billed.
    statement_reminder_days: str = Field(
        default="30,60,90", alias="DENIALFLOW_STATEMENT_REMINDER_DAYS"
    )
    statement_final_notice_day: int = Field(default=120, alias="DENIALFLOW_FINAL_NOTICE_DAY")
    statement_collections_review_day: int = Field(
        default=150, alias="DENIALFLOW_COLLECTIONS_REVIEW_DAY"
    )
    statement_after_payment_days: int = Field(
        default=30, ge=1, alias="DENIALFLOW_STATEMENT_AFTER_PAYMENT_DAYS"
    )
    small_balance_threshold: Decimal = Field(
        default=Decimal("5.00"), ge=0, alias="DENIALFLOW_SMALL_BALANCE"
    )
    # A statement asks to be paid within this many days of its date.
    statement_pay_within_days: int = Field(default=30, ge=1, alias="DENIALFLOW_STATEMENT_PAY_DAYS")
    # A payment plan's installment is missed when it is still unpaid this many practice
    # days after its due date (each plan keeps the value it was set up with).
    plan_grace_days: int = Field(default=10, ge=0, le=60, alias="DENIALFLOW_PLAN_GRACE_DAYS")
    submitter_id: str = Field(default="DENIALFLOW", alias="DENIALFLOW_SUBMITTER_ID")
    receiver_id: str = Field(default="CLEARINGHOUSE", alias="DENIALFLOW_RECEIVER_ID")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.practice_timezone)

    @property
    def inbound(self) -> Path:
        return self.inbound_dir or self.var_dir / "inbound"

    @property
    def outbound(self) -> Path:
        return self.outbound_dir or self.var_dir / "outbound"

    @property
    def effective_temporal_ui_origin(self) -> str:
        origin = self.temporal_ui_origin or f"http://127.0.0.1:{self.temporal_ui_port}"
        # Browsers send the origin without a trailing slash; a pasted URL often has one.
        return origin.rstrip("/")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / 'denialflow.db'}"


def make_private(var_dir: Path) -> None:
    """var/ holds PHI (the SQLite databases, Temporal's history, logs, X12 files): make it
    and everything in it readable by its owner only, including what an older version or a
    different umask created before."""
    var_dir.mkdir(parents=True, exist_ok=True)
    for root, dirs, files in os.walk(var_dir):
        for name, mode in [(root, 0o700)] + [(os.path.join(root, f), 0o600) for f in files]:
            try:
                if os.stat(name, follow_symlinks=False).st_mode & 0o077:
                    os.chmod(name, mode, follow_symlinks=False)
            except (FileNotFoundError, NotImplementedError):
                # Gone meanwhile (SQLite's -shm), or a symlink on a platform without lchmod.
                pass
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]


@lru_cache
def get_settings() -> Settings:
    return Settings()
