"""Child processes of a benchmark run (dev server, workers): started, measured, always stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import psutil
from temporalio.client import Client

from denialflow.devserver import free_port, start_dev_server
from denialflow.settings import Settings
from denialflow.workflows.client import connect
from denialflow.workflows.codec import new_key_setting

MIB = 1024 * 1024
T = TypeVar("T")


class Children:
    """Every process the run started, so that one `finally` can stop them all."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def add(self, proc: subprocess.Popen) -> subprocess.Popen:
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 15.0) -> None:
        """SIGTERM the process (and anything it spawned), then SIGKILL what is left."""
        if proc in self.procs:
            self.procs.remove(proc)
        if proc.poll() is not None:
            return
        try:
            spawned = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            spawned = []
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=5)
        for child in spawned:
            with contextlib.suppress(psutil.Error):
                child.kill()

    def stop_all(self) -> None:
        # Workers first: they would otherwise log errors about the vanished server.
        for proc in reversed(list(self.procs)):
            self.stop(proc)
        # A child interrupted before it was registered (e.g. Ctrl-C while the dev server
        # was still opening its port) is still our own child process: stop it too.
        for child in psutil.Process().children():
            with contextlib.suppress(psutil.Error):
                child.terminate()
                child.wait(timeout=10)


def rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / MIB


def peak_rss_mib(pid: int) -> float | None:
    """The process's high-water resident set (Linux VmHWM), or None elsewhere."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int, children: bool = True) -> float:
    """User + system CPU of a process, and of its live children unless told not to."""
    try:
        proc = psutil.Process(pid)
        total = sum(proc.cpu_times()[:2])
        for child in proc.children(recursive=True) if children else []:
            with contextlib.suppress(psutil.Error):
                total += sum(child.cpu_times()[:2])
        return total
    except psutil.Error:
        return 0.0


def wait_for_file(path: Path, proc: subprocess.Popen, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {timeout:.0f}s")
        time.sleep(0.1)


async def start_temporal(
    children: Children, tmp: Path, log: Callable[[str], None], host: str = "127.0.0.1"
) -> tuple[str, subprocess.Popen, Client]:
    """A fresh headless dev server in `tmp`, waited on until it answers a visibility call
    (the port opens before the server can take work). Returns address, process, client.

    The run's payload key goes into our environment first: the workers and web apps we
    start inherit it, so they decrypt what this client encrypts (each would otherwise
    make a key of its own under its own var dir)."""
    os.environ.setdefault("DENIALFLOW_PAYLOAD_KEYS", new_key_setting())
    settings = Settings()
    port = free_port()
    address = f"{host}:{port}"
    t0 = time.perf_counter()
    server = children.add(
        start_dev_server(tmp / "temporal.db", host, port, None, tmp / "temporal-server.log")
    )
    for attempt in range(50):
        try:
            client = await connect(address, settings=settings)
            await client.count_workflows()
            break
        except Exception:
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)
    log(f"dev server on {address} ready in {time.perf_counter() - t0:.1f}s")
    return address, server, client


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_with_children(
    prefix: str, keep: bool, body: Callable[[Path, Children], Awaitable[T]]
) -> T | None:
    """Run `body` in a fresh temporary directory with a Children registry, and always
    stop every child it started. SIGTERM counts as Ctrl-C. Returns None when interrupted;
    on a failure the directory (its logs) is kept and named, and the error raised."""
    children = Children()
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return asyncio.run(body(tmp, children))
    except KeyboardInterrupt:
        print("\ninterrupted; stopping what the benchmark started", file=sys.stderr)
        return None
    except BaseException:
        keep = True
        print(f"\nbenchmark failed; logs kept in {tmp}", file=sys.stderr)
        raise
    finally:
        children.stop_all()
        signal.signal(signal.SIGTERM, previous)
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
