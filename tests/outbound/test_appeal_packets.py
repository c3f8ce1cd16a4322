"""Appeal packets as one PDF, read back with pdftotext as a payer would read them: the
letter first with the claim's numbers, amounts and the payer's appeal address, then the
enclosures (a PDF's own pages, an image on its page)."""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from PIL import Image

from denialflow.domain import appeal_letters as letters
from denialflow.outbound.appeal_packets import Enclosure, letter_pdf, packet_pdf
from tests.pdf_text import pdf_text


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 120), "navy").save(out, "PNG")
    return out.getvalue()


def test_the_letter_comes_first_with_the_claims_numbers_amounts_and_the_appeal_address() -> None:
    facts = letters.sample_facts(category="authorization", level=1)
    html = letters.render_template(letters.DEFAULT_TEMPLATE, letters.letter_context(facts))
    record = letter_pdf("<h1>Progress note</h1><p>Chart entry XR-4471</p>")
    pdf, pages = packet_pdf(
        html,
        [
            Enclosure("Progress note", "application/pdf", record),
            Enclosure("Authorization fax", "image/png", _png()),
        ],
    )
    text = pdf_text(pdf)
    assert pages == 3 and text.count("\f") == 3
    letter, enclosed_pdf, image_page = text.split("\f")[:3]
    for expected in (
        "SAMPLE-1",  # our claim number
        "PCN0000001",  # the payer's
        "$250.00",  # billed and denied
        "$180.00",  # a line's charge
        "CO-50",
        "99214",
        "01/05/2026",  # date of service
        "Appeals Unit",
        "PO Box 1000",
        "Capital City, ST 00000",
        "First-level appeal",
        "Office note 2026-01-05",  # the enclosure list
    ):
        assert expected in letter, expected
    assert "authorization on file" in letter  # the category's argument
    assert "Chart entry XR-4471" in enclosed_pdf
    assert "Authorization fax" in image_page


def test_a_letter_loads_nothing_from_outside() -> None:
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            asked.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/logo.png"
        pdf = letter_pdf(f'<p>Letter</p><img src="{url}"><img src="file:///etc/hostname">')
    finally:
        server.shutdown()
    assert asked == []
    assert "Letter" in pdf_text(pdf)
