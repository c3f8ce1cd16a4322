"""`denialflow up`: the Temporal dev server, the worker and the web app, in one terminal.

A part that exits on its own (a crashed worker, web app or embedded Temporal dev server) is
started again after a back-off (1 s doubling to 30 s, back to 1 s once it has stayed up a
minute), each restart logged with the exit status to stderr and the part's log file.
Only Ctrl-C (or SIGTERM) stops all three: web first, then the worker, then Temporal.
Data lives under var/ and is reused; demo data is seeded only into an empty database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from denialflow.devserver import port_open, start_dev_server, wait_for_port
from denialflow.models.db import get_engine, session_scope
from denialflow.models.migrate import upgrade
from denialflow.models.reference import install_reference_data
from denialflow.settings import Settings, get_settings


class Backoff:
    """Delay before the next restart of one part: doubles on each crash up to `cap`, and
    starts over from `initial` once the part has stayed up `stable_after` seconds, so a part
    that crashes once a day is not made to wait 30 s."""

    def __init__(self, initial: float = 1.0, cap: float = 30.0, stable_after: float = 60.0):
        self.initial = initial
        self.cap = cap
        self.stable_after = stable_after
        self._next = initial

    def delay(self, uptime: float) -> float:
        """The wait before restarting a part that exited after running `uptime` seconds."""
        if uptime >= self.stable_after:
            self._next = self.initial
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay


def should_restart(returncode: int | None, stopping: bool) -> bool:
    """A part that has exited is restarted unless the user asked everything to stop."""
    return returncode is not None and not stopping


def _log_restart(name: str, returncode: int | None, delay: float, log_file: Path) -> None:
    message = f"{name} exited with status {returncode}; restarting in {delay:g}s"
    print(message, file=sys.stderr, flush=True)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with log_file.open("a") as log:
        log.write(f"{stamp} denialflow up: {message}\n")


def _spawn(args: list[str], log_file: Path) -> subprocess.Popen:
    log = log_file.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "denialflow.cli", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=os.environ.copy(),
    )


def _stop(proc: subprocess.Popen | None, name: str, timeout: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT if name != "temporal" else signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    print(f"  stopped {name}", flush=True)


def _embedded_temporal(settings: Settings) -> tuple[str, int] | None:
    """Host and port of the dev server to run here; None when TEMPORAL_ADDRESS is elsewhere."""
    host, _, port = settings.temporal_address.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        return None
    return host, int(port)


def codec_endpoint(settings: Settings) -> str:
    """The web app's codec server as the browser that shows the Temporal UI reaches it."""
    host = settings.web_host
    if host in ("0.0.0.0", "::", ""):
        # Listening everywhere; the UI is opened on 127.0.0.1, and the same host keeps
        # the session cookie same-site so the browser sends it.
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.web_port}/codec"


def up(seed: bool = True, demo_claims: int = 300) -> int:
    settings = get_settings()
    var = settings.var_dir
    (var / "logs").mkdir(parents=True, exist_ok=True)

    def _on_signal(signum: int, _frame: object) -> None:
        # SIGTERM behaves like Ctrl-C, so seeding or waiting stops the same way.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    # Installed explicitly: a shell that starts us in the background ignores SIGINT.
    signal.signal(signal.SIGINT, _on_signal)

    engine = get_engine(settings.effective_database_url)
    upgrade(engine)
    with session_scope(engine) as session:
        install_reference_data(session)

    temporal = worker = web = None
    try:
        embedded = _embedded_temporal(settings)
        if embedded is not None:
            host, port = embedded
            if port_open(host, port):
                print(f"Temporal already answers on {host}:{port}; using it", flush=True)
            else:
                print("starting Temporal dev server ...", flush=True)
                temporal = start_dev_server(
                    var / "temporal.db",
                    host,
                    port,
                    settings.temporal_ui_port,
                    var / "logs" / "temporal.log",
                    codec_endpoint(settings),
                )
        worker = _spawn(["worker"], var / "logs" / "worker.log")
        web = _spawn(["web"], var / "logs" / "web.log")
        wait_for_port(settings.web_host, settings.web_port, 60, web, "web app")
        if seed:
            from denialflow.demo import seed_demo

            created = asyncio.run(seed_demo(settings, claims=demo_claims))
            if created:
                print(f"seeded {created} demo claims", flush=True)
        print(
            "\ndenialflow is running\n"
            f"  web app     http://{settings.web_host}:{settings.web_port}\n"
            + (
                f"  Temporal UI http://127.0.0.1:{settings.temporal_ui_port}\n"
                if temporal is not None
                else f"  Temporal    {settings.temporal_address}\n"
            )
            + f"  logs        {var / 'logs'}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        logs = var / "logs"

        def start_temporal() -> subprocess.Popen:
            assert embedded is not None
            # The same database file, so workflows and timers carry on where they were.
            return start_dev_server(
                var / "temporal.db",
                embedded[0],
                embedded[1],
                settings.temporal_ui_port,
                logs / "temporal.log",
                codec_endpoint(settings),
            )

        starters = {
            "worker": lambda: _spawn(["worker"], logs / "worker.log"),
            "web": lambda: _spawn(["web"], logs / "web.log"),
            "temporal": start_temporal,
        }
        running: dict[str, subprocess.Popen] = {"worker": worker, "web": web}
        if temporal is not None:
            running["temporal"] = temporal
        started_at = {name: time.monotonic() for name in running}
        backoffs = {name: Backoff() for name in running}
        due: dict[str, float] = {}
        while True:
            now = time.monotonic()
            for name, proc in running.items():
                if name not in due and should_restart(proc.poll(), stopping=False):
                    delay = backoffs[name].delay(now - started_at[name])
                    _log_restart(name, proc.returncode, delay, logs / f"{name}.log")
                    due[name] = now + delay
            for name, when in list(due.items()):
                if now < when:
                    continue
                del due[name]
                try:
                    running[name] = starters[name]()
                except RuntimeError as exc:
                    # Exited again before answering: the next pass backs off further.
                    print(f"{name} did not start: {exc}", file=sys.stderr, flush=True)
                else:
                    print(f"restarted {name}", flush=True)
                started_at[name] = time.monotonic()
            worker, web, temporal = running["worker"], running["web"], running.get("temporal")
            time.sleep(0.3)
    except KeyboardInterrupt:
        return 0
    finally:
        print("stopping ...", flush=True)
        _stop(web, "web")
        _stop(worker, "worker")
        _stop(temporal, "temporal")
