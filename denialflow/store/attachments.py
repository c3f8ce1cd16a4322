"""Documents kept with a claim: uploaded attachments and the appeal packets made from them.

Files live outside the web root, under `var/documents/` (private, 0700; each file 0600),
named by the SHA-256 of their content, so the same document uploaded twice is stored once.
A row is written only after its file is in place, and a file written for a row that then
failed to commit is removed again unless another row uses it: no row without its file,
and no file left behind by a failed save. Reading a document is audited by the caller.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, col, select

from denialflow.domain.appeal_letters import ATTACHMENT_KINDS
from denialflow.models.tables import AppealPacket, AuditEvent, ClaimAttachment
from denialflow.settings import Settings

# Big enough for a scanned chart; a fax or a payer portal rarely takes more.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_TITLE = 200
# What a packet can carry: PDFs are appended as they are, images are placed on a page.
# The type is read from the file's first bytes, never from the name or the browser.
ALLOWED_TYPES: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "application/pdf": (b"%PDF-", (".pdf",)),
    "image/png": (b"\x89PNG\r\n\x1a\n", (".png",)),
    "image/jpeg": (b"\xff\xd8\xff", (".jpg", ".jpeg")),
}
ALLOWED_NAMES = "PDF, PNG or JPEG"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9 ._()-]+")


class AttachmentRefused(ValueError):
    """An upload that is not kept; the message says what is wrong with which file."""


def documents_dir(settings: Settings) -> Path:
    return settings.var_dir / "documents"


def document_path(settings: Settings, sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("not a document hash")
    return documents_dir(settings) / sha256[:2] / sha256


def read_document(settings: Settings, sha256: str) -> bytes:
    return document_path(settings, sha256).read_bytes()


def store_document(settings: Settings, data: bytes) -> str:
    """Write `data` under its hash (atomically, private) and return the hash; a document
    already there is left as it is."""
    sha = hashlib.sha256(data).hexdigest()
    path = document_path(settings, sha)
    if path.exists():
        return sha
    for folder in (settings.var_dir, documents_dir(settings), path.parent):
        folder.mkdir(mode=0o700, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return sha


def document_in_use(session: Session, sha256: str) -> bool:
    for table in (ClaimAttachment, AppealPacket):
        if session.exec(select(table.id).where(table.sha256 == sha256)).first() is not None:
            return True
    return False


def forget_document(session: Session, settings: Settings, sha256: str) -> None:
    """Remove the file unless a row still names it."""
    if not document_in_use(session, sha256):
        with contextlib.suppress(FileNotFoundError):
            document_path(settings, sha256).unlink()


def clean_name(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")).strip()
    return _SAFE_NAME.sub("_", base)[:255] or "document"


def sniff(name: str, data: bytes) -> str:
    """The content type of an upload, checked against its bytes; AttachmentRefused says
    what is wrong with `name` otherwise."""
    label = clean_name(name)
    if not data:
        raise AttachmentRefused(f"{label}: the file is empty")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentRefused(
            f"{label}: {len(data) / 1024 / 1024:.1f} MiB is too large; at most "
            f"{MAX_ATTACHMENT_BYTES // 1024 // 1024} MiB per file"
        )
    suffix = os.path.splitext(label)[1].lower()
    for content_type, (magic, suffixes) in ALLOWED_TYPES.items():
        if data.startswith(magic):
            if suffix not in suffixes:
                raise AttachmentRefused(
                    f"{label}: the file is a {content_type} but its name ends in "
                    f"{suffix or 'nothing'}; rename it to {suffixes[0]}"
                )
            _check_readable(label, content_type, data)
            return content_type
    raise AttachmentRefused(
        f"{label}: this type of file is not allowed; attach a {ALLOWED_NAMES} "
        "(scan other documents to PDF first)"
    )


def _check_readable(label: str, content_type: str, data: bytes) -> None:
    """A packet must be able to carry it: a PDF that opens without a password, an image
    that decodes."""
    if content_type == "application/pdf":
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                raise AttachmentRefused(
                    f"{label}: the PDF is password-protected; save a copy without the "
                    "password and attach that"
                )
            if len(reader.pages) == 0:
                raise AttachmentRefused(f"{label}: the PDF has no pages")
        except AttachmentRefused:
            raise
        except (PdfReadError, ValueError, KeyError, TypeError, OSError):
            raise AttachmentRefused(f"{label}: the PDF is damaged and cannot be read") from None
        return
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise AttachmentRefused(f"{label}: the image is damaged and cannot be read") from None


@dataclass(frozen=True)
class Upload:
    claim_id: str
    kind: str
    title: str
    file_name: str
    data: bytes


def add_attachment(session: Session, settings: Settings, upload: Upload, by: str) -> int:
    """Check and keep an upload: its file first, then its row and the audit entry in one
    commit. Returns the attachment's id; AttachmentRefused leaves nothing behind."""
    if upload.kind not in ATTACHMENT_KINDS:
        raise AttachmentRefused(
            f"document type {upload.kind!r} is not one of: {', '.join(ATTACHMENT_KINDS)}"
        )
    title = upload.title.strip()
    if len(title) > MAX_TITLE:
        raise AttachmentRefused(f"the title is {len(title)} characters; at most {MAX_TITLE}")
    name = clean_name(upload.file_name)
    content_type = sniff(name, upload.data)
    sha = store_document(settings, upload.data)
    now = datetime.now(UTC)
    row = ClaimAttachment(
        claim_id=upload.claim_id,
        kind=upload.kind,
        title=title or name,
        file_name=name,
        content_type=content_type,
        size=len(upload.data),
        sha256=sha,
        uploaded_by=by,
        uploaded_at=now,
    )
    try:
        session.add(row)
        session.flush()
        session.add(
            AuditEvent(
                at=now,
                actor=by,
                action="attachment_added",
                claim_id=upload.claim_id,
                # No names or titles: they may carry PHI.
                detail={"attachment": row.id, "kind": upload.kind, "bytes": len(upload.data)},
            )
        )
        session.commit()
    except BaseException:
        session.rollback()
        forget_document(session, settings, sha)
        raise
    assert row.id is not None
    return row.id


def attachments_of(session: Session, claim_id: str) -> list[ClaimAttachment]:
    return list(
        session.exec(
            select(ClaimAttachment)
            .where(ClaimAttachment.claim_id == claim_id)
            .order_by(col(ClaimAttachment.uploaded_at), col(ClaimAttachment.id))
        )
    )


def attachment_of(session: Session, claim_id: str, attachment_id: int) -> ClaimAttachment | None:
    row = session.get(ClaimAttachment, attachment_id)
    return row if row is not None and row.claim_id == claim_id else None
