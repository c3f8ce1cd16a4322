"""`denialflow up` points the dev server's Temporal UI at the web app's codec server, so
the UI can show decrypted payloads to a signed-in admin (web/routers/codec.py)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from denialflow.devserver import free_port, start_dev_server
from denialflow.settings import Settings
from denialflow.supervisor import codec_endpoint


def test_the_codec_endpoint_is_the_web_app_as_the_browser_reaches_it() -> None:
    assert codec_endpoint(Settings()) == "http://127.0.0.1:8000/codec"
    everywhere = Settings(DENIALFLOW_WEB_HOST="0.0.0.0", DENIALFLOW_WEB_PORT=9000)
    assert codec_endpoint(everywhere) == "http://127.0.0.1:9000/codec"
    assert codec_endpoint(Settings(DENIALFLOW_WEB_HOST="::1")) == "http://[::1]:8000/codec"
    # The codec server's CORS allowance is for the UI `up` runs, wherever its port is.
    assert Settings().effective_temporal_ui_origin == "http://127.0.0.1:8233"
    moved = Settings(DENIALFLOW_TEMPORAL_UI_PORT=8300)
    assert moved.effective_temporal_ui_origin == "http://127.0.0.1:8300"
    named = Settings(DENIALFLOW_TEMPORAL_UI_ORIGIN="https://temporal.example.org/")
    assert named.effective_temporal_ui_origin == "https://temporal.example.org"


def test_the_dev_servers_ui_is_configured_with_the_codec_endpoint(tmp_path: Path) -> None:
    """The real dev server: its UI serves the endpoint it was given in its settings,
    which is what the UI's browser code reads to find the codec server."""
    port, ui_port = free_port(), free_port()
    endpoint = "http://127.0.0.1:8000/codec"
    proc = start_dev_server(
        tmp_path / "t.db", "127.0.0.1", port, ui_port, tmp_path / "t.log", endpoint
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{ui_port}/api/v1/settings", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the Temporal UI did not answer"
                time.sleep(0.2)
        assert answer.status_code == 200
        assert answer.json()["Codec"]["Endpoint"] == endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=30)
