"""Local data files hold PHI: they are readable by their owner only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_migrate_creates_owner_only_files_and_tightens_old_ones(tmp_path: Path) -> None:
    var = tmp_path / "var"
    (var / "logs").mkdir(parents=True)
    old_log = var / "logs" / "worker.log"
    old_log.write_text("written by an older version\n")
    os.chmod(var, 0o755)
    os.chmod(var / "logs", 0o755)
    os.chmod(old_log, 0o644)
    env = {**os.environ, "DENIALFLOW_VAR_DIR": str(var), "DATABASE_URL": ""}
    # A permissive umask, as a shared machine's default might be.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys; os.umask(0o022); "
            "from denialflow.cli import main; sys.exit(main(['migrate']))",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert _mode(var) == 0o700
    assert _mode(var / "logs") == 0o700
    assert _mode(old_log) == 0o600
    database = var / "denialflow.db"
    assert database.exists()
    assert _mode(database) == 0o600
