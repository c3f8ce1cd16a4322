"""`denialflow up`: the Temporal dev server, the worker and the web app, in one terminal.

Ctrl-C (or SIGTERM) stops all three: web first, then the worker, then Temporal.
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
        while True:
            for name, proc in (("worker", worker), ("web", web), ("temporal", temporal)):
                if proc is not None and proc.poll() is not None:
                    print(f"{name} exited with status {proc.returncode}; stopping", flush=True)
                    return 1
            time.sleep(0.3)
    except KeyboardInterrupt:
        return 0
    finally:
        print("stopping ...", flush=True)
        _stop(web, "web")
        _stop(worker, "worker")
        _stop(temporal, "temporal")
