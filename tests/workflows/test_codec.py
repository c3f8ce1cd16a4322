"""The payload codec: rotation, unknown keys, plaintext pass-through, setting validation."""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload

from denialflow.workflows.codec import (
    EncryptionCodec,
    PayloadKeyError,
    load_or_create_key_file,
    parse_payload_keys,
)
from tests.workflows.conftest import Harness, harness  # noqa: F401  (fixture)

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"patient": "Jane Doe"}')


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


async def test_encrypted_payload_hides_plaintext_and_round_trips() -> None:
    codec = EncryptionCodec(parse_payload_keys(f"k1:{_key()}"))
    [encrypted] = await codec.encode([PLAIN])
    assert b"Jane" not in encrypted.SerializeToString()
    assert encrypted.metadata["encryption-key-id"] == b"k1"
    assert await codec.decode([encrypted]) == [PLAIN]


async def test_old_key_still_decrypts_after_rotation() -> None:
    old = _key()
    [encrypted] = await EncryptionCodec(parse_payload_keys(f"k1:{old}")).encode([PLAIN])
    rotated = EncryptionCodec(parse_payload_keys(f"k2:{_key()},k1:{old}"))
    assert await rotated.decode([encrypted]) == [PLAIN]
    [fresh] = await rotated.encode([PLAIN])
    assert fresh.metadata["encryption-key-id"] == b"k2"


async def test_unknown_key_fails_clearly() -> None:
    [encrypted] = await EncryptionCodec(parse_payload_keys(f"gone:{_key()}")).encode([PLAIN])
    with pytest.raises(PayloadKeyError, match="unknown key id 'gone'"):
        await EncryptionCodec(parse_payload_keys(f"k1:{_key()}")).decode([encrypted])


async def test_unencrypted_payload_passes_through() -> None:
    assert await EncryptionCodec(parse_payload_keys(f"k1:{_key()}")).decode([PLAIN]) == [PLAIN]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "entry 1 is empty"),
        ("nocolon", "entry 1 must be"),
        ("a:!!!", "key 'a' is not valid base64"),
        ("a:" + base64.b64encode(b"short").decode(), "key 'a' is 5 bytes"),
    ],
)
def test_bad_setting_names_the_entry(value: str, message: str) -> None:
    with pytest.raises(PayloadKeyError, match=message):
        parse_payload_keys(value)


def test_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "payload-keys"
    first = load_or_create_key_file(path)
    assert load_or_create_key_file(path) == first
    assert path.stat().st_mode & 0o777 == 0o600
    parse_payload_keys(first)


async def test_the_temporal_server_holds_no_phi_in_the_clear(harness: Harness) -> None:  # noqa: F811
    """The history as the server stores it (what its UI and database show): the claim's
    input, a payer call's notes and representative, and the results, all ciphertext."""
    handle = await harness.submit("CX-1")
    await harness.deny("CX-1", reason="50")
    item = await harness.wait_item("CX-1", "denial")
    await harness.act("CX-1", "start_work", work_item_id=item.id, expected_version=item.version)
    item = await harness.wait_item("CX-1", "denial", state="in_progress")
    await harness.act(
        "CX-1",
        "call_logged",
        work_item_id=item.id,
        expected_version=item.version,
        representative="Zelda Quintero",
        reference_number="REF-77Q",
        note="patient says she moved to Peoria",
        outcome="reprocessing",
        follow_up_date=await harness.today() + timedelta(days=7),
    )
    history = await handle.fetch_history()
    raw = history.to_json()
    # Through the codec the call is there, so the absence below is not for want of it.
    accepted = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.args
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    codec = harness.client.data_converter.payload_codec
    assert codec is not None
    decoded = [p for args in accepted for p in await codec.decode(list(args.payloads))]
    assert any(b"Zelda Quintero" in p.data for p in decoded)
    for plain in ("PATIENT, TEST", "MBR0001", "1 MAIN ST", "Zelda Quintero", "REF-77Q", "Peoria"):
        assert plain not in raw, f"{plain!r} is in the server's history in the clear"
        assert base64.b64encode(plain.encode()).decode()[:-4] not in raw
