"""The text of a PDF as a person reading it would find it: Debian's pdftotext (poppler-utils).

Missing pdftotext fails the test that needs it, saying what to install: `make test` runs
scripts/pdf_tools.sh, which installs it as root and names it otherwise."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def pdf_text(data: bytes) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.fail(
            "pdftotext is missing: install poppler-utils (scripts/pdf_tools.sh does it as "
            "root; Debian: sudo apt-get install poppler-utils)"
        )
    done = subprocess.run(
        [tool, "-layout", "-enc", "UTF-8", "-", "-"],
        input=data,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode()


def pdf_pages(data: bytes) -> int:
    return pdf_text(data).count("\f")
