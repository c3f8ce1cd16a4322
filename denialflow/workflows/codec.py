"""Encrypts every Temporal payload with AES-GCM so PHI never sits in history in the clear.

Keys come from DENIALFLOW_PAYLOAD_KEYS ("key-id:base64-of-32-bytes,..."): the first
encrypts, all decrypt, so a rotated-out key keeps old histories readable. The key id
travels in the payload's metadata so decryption picks the right key.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

if TYPE_CHECKING:
    from denialflow.settings import Settings

ENCODING = b"binary/encrypted"
_KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12


class PayloadKeyError(ValueError):
    """The payload-key setting or a payload's key id is unusable."""


def parse_payload_keys(value: str) -> list[tuple[str, bytes]]:
    """Parse the setting; the error names the entry but never echoes key material."""
    keys: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for position, entry in enumerate((e.strip() for e in value.split(",")), start=1):
        if not entry:
            raise PayloadKeyError(f"DENIALFLOW_PAYLOAD_KEYS entry {position} is empty")
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not key_id:
            raise PayloadKeyError(
                f"DENIALFLOW_PAYLOAD_KEYS entry {position} must be 'key-id:base64-key'"
            )
        if key_id in seen:
            raise PayloadKeyError(f"DENIALFLOW_PAYLOAD_KEYS key id {key_id!r} appears twice")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise PayloadKeyError(
                f"DENIALFLOW_PAYLOAD_KEYS key {key_id!r} is not valid base64"
            ) from None
        if len(key) != 32:
            raise PayloadKeyError(
                f"DENIALFLOW_PAYLOAD_KEYS key {key_id!r} is {len(key)} bytes, needs 32"
            )
        seen.add(key_id)
        keys.append((key_id, key))
    return keys


class EncryptionCodec(PayloadCodec):
    """AES-GCM over whole serialized payloads; the key id is bound as associated data."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise PayloadKeyError("at least one payload key is required")
        self._encrypt_id = keys[0][0]
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        aead = self._keys[self._encrypt_id]
        key_id = self._encrypt_id.encode()
        out = []
        for p in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            data = nonce + aead.encrypt(nonce, p.SerializeToString(), key_id)
            out.append(Payload(metadata={"encoding": ENCODING, _KEY_ID: key_id}, data=data))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            # Histories recorded before encryption hold plain JSON payloads; passing
            # them through unchanged lets those histories still replay.
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)
                continue
            key_id = p.metadata.get(_KEY_ID, b"").decode()
            aead = self._keys.get(key_id)
            if aead is None:
                raise PayloadKeyError(
                    f"payload encrypted with unknown key id {key_id!r}; "
                    "add that key to DENIALFLOW_PAYLOAD_KEYS"
                )
            nonce, ciphertext = p.data[:_NONCE_BYTES], p.data[_NONCE_BYTES:]
            out.append(Payload.FromString(aead.decrypt(nonce, ciphertext, key_id.encode())))
        return out


def new_key_setting(key_id: str = "k1") -> str:
    """A DENIALFLOW_PAYLOAD_KEYS value holding one fresh random key."""
    return f"{key_id}:" + base64.b64encode(os.urandom(32)).decode()


def load_or_create_key_file(path: Path) -> str:
    """The setting's value from a key file, made once with a fresh key if missing.

    O_EXCL makes exactly one of two processes starting at once write the key; the
    other reads it. A reader may see the file before its writer finished, so it
    waits briefly for content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    value = new_key_setting()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            text = path.read_text().strip()
            if text:
                return text
            time.sleep(0.1)
        raise PayloadKeyError(f"payload key file {path} is empty") from None
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def key_file(settings: Settings) -> Path:
    return settings.var_dir / "payload-keys"


def codec_from_settings(settings: Settings) -> EncryptionCodec:
    """The codec every process uses: DENIALFLOW_PAYLOAD_KEYS, or the key file under var/
    (made on first use) so that `make run`'s processes share one key with no set-up."""
    value = settings.payload_keys or load_or_create_key_file(key_file(settings))
    return EncryptionCodec(parse_payload_keys(value))
