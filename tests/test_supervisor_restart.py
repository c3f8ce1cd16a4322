"""`denialflow up` keeps going when a part crashes: the back-off rule, and a real worker
killed with SIGKILL under a real `up` comes back while the web app stays up."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import psutil

from denialflow.supervisor import Backoff, should_restart
from tests.test_make_run import START_TIMEOUT, Up, _processes_of, up_env  # noqa: F401


def test_backoff_doubles_to_the_cap_and_resets_after_a_stable_minute() -> None:
    backoff = Backoff(initial=1, cap=30, stable_after=60)
    assert [backoff.delay(uptime=0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(uptime=61) == 1
    assert backoff.delay(uptime=2) == 2


def test_only_a_stop_request_prevents_a_restart() -> None:
    assert should_restart(-9, stopping=False)
    assert should_restart(0, stopping=False)
    assert not should_restart(1, stopping=True)
    assert not should_restart(None, stopping=False)


def _worker_pids(up: Up) -> set[int]:
    children = psutil.Process(up.proc.pid).children(recursive=True)
    pids = set()
    for child in children:
        try:
            if "worker" in child.cmdline():
                pids.add(child.pid)
        except psutil.Error:
            continue
    return pids


def test_a_killed_worker_is_restarted_and_the_web_app_stays_up(
    up_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    var_dir = Path(up_env["DENIALFLOW_VAR_DIR"])
    up = Up(up_env, tmp_path)
    try:
        up.wait_for_line("denialflow is running", START_TIMEOUT)
        web = f"http://127.0.0.1:{up_env['DENIALFLOW_WEB_PORT']}"
        before = _worker_pids(up)
        assert len(before) == 1, before
        psutil.Process(next(iter(before))).send_signal(signal.SIGKILL)

        deadline = time.monotonic() + 60
        after: set[int] = set()
        while time.monotonic() < deadline:
            # The web app answers throughout: a worker crash no longer takes it down.
            assert httpx.get(f"{web}/health", timeout=5).status_code in (200, 503)
            after = _worker_pids(up)
            if after and not (after & before):
                break
            time.sleep(0.5)
        assert after and not (after & before), up.output
        up.wait_for_line("restarted worker", 10)
        assert "worker exited with status -9" in up.output
        assert "worker exited with status -9" in (var_dir / "logs" / "worker.log").read_text()

        deadline = time.monotonic() + 30
        while httpx.get(f"{web}/health", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "health never ok after the restart"
            time.sleep(0.5)
        assert up.proc.poll() is None
        assert up.interrupt() == 0, up.output
    finally:
        up.kill()
        for proc in _processes_of(var_dir):
            proc.kill()
