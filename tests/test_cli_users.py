"""`denialflow user create`: the first admin of a real installation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _run(
    tmp_path: Path, *args: str, password: str = "correct horse"
) -> subprocess.CompletedProcess:
    env = {**os.environ, "DENIALFLOW_VAR_DIR": str(tmp_path), "DENIALFLOW_NEW_PASSWORD": password}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "denialflow.cli", *args], env=env, capture_output=True, text=True
    )


def test_create_admin_then_sign_in_works_and_duplicates_are_refused(tmp_path: Path) -> None:
    from denialflow.models.db import engine_for
    from denialflow.store.accounts import authenticate, utcnow

    assert _run(tmp_path, "migrate").returncode == 0
    created = _run(tmp_path, "user", "create", "Dana", "--role", "admin", "--name", "Dana K")
    assert created.returncode == 0, created.stderr
    again = _run(tmp_path, "user", "create", "dana", "--role", "admin")
    assert again.returncode == 2 and "already exists" in again.stderr
    short = _run(tmp_path, "user", "create", "eve", "--role", "admin", password="short")
    assert short.returncode == 2 and "at least 8" in short.stderr
    assert "Traceback" not in again.stderr + short.stderr

    from sqlmodel import Session

    with Session(engine_for(f"sqlite:///{tmp_path / 'denialflow.db'}")) as session:
        user = authenticate(session, "dana", "correct horse", utcnow())
        assert (user.role, user.full_name) == ("admin", "Dana K")
