"""Appeal packets as one PDF: the letter first (WeasyPrint), then each enclosure in the
order the letter lists them: a PDF's own pages appended (pypdf), an image placed on a
page of its own with its title.

WeasyPrint fetches nothing: a letter template is the admin's HTML, so a URL in it
(an image, a style sheet) could reach any address the server can; only the data: URLs
this module writes itself are loaded.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass

LETTER_CSS = """
@page { size: letter; margin: 0.9in 0.9in 0.8in 0.9in;
        @bottom-right { content: "Page " counter(page) " of " counter(pages);
                        font-size: 8pt; color: #555; } }
body { font-family: "DejaVu Serif", "Liberation Serif", serif; font-size: 11pt;
       line-height: 1.35; color: #000; }
.sender { margin-bottom: 1.2em; }
.date { margin: 1em 0; }
.recipient { margin-bottom: 1.2em; }
table { border-collapse: collapse; width: 100%; margin: 0.8em 0; font-size: 10pt; }
th, td { border: 0.5pt solid #777; padding: 2pt 4pt; text-align: left; }
h1, h2 { font-size: 13pt; }
.enclosure-page { page-break-before: always; }
.enclosure-page img { max-width: 100%; max-height: 8.4in; }
"""


class PacketNotMade(ValueError):
    """The PDF could not be made; the message names the document."""


@dataclass(frozen=True)
class Enclosure:
    title: str
    content_type: str
    data: bytes


def _fetcher() -> object:
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=("data",))


def _html_pdf(body: str) -> bytes:
    from weasyprint import CSS, HTML

    document = HTML(
        string=f'<!doctype html><html lang="en"><meta charset="utf-8"><body>{body}</body></html>',
        url_fetcher=_fetcher(),
    )
    return document.write_pdf(stylesheets=[CSS(string=LETTER_CSS)])


def letter_pdf(letter_html: str) -> bytes:
    return _html_pdf(letter_html)


def _image_page(enclosure: Enclosure) -> bytes:
    encoded = base64.b64encode(enclosure.data).decode()
    return _html_pdf(
        f'<div class="enclosure-page"><h2>{html.escape(enclosure.title)}</h2>'
        f'<img src="data:{enclosure.content_type};base64,{encoded}" alt=""></div>'
    )


def packet_pdf(letter_html: str, enclosures: list[Enclosure]) -> tuple[bytes, int]:
    """The packet's PDF and its page count."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PdfReadError

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(letter_pdf(letter_html))))
    for enclosure in enclosures:
        try:
            if enclosure.content_type == "application/pdf":
                writer.append(PdfReader(io.BytesIO(enclosure.data)))
            else:
                writer.append(PdfReader(io.BytesIO(_image_page(enclosure))))
        except (PdfReadError, ValueError, KeyError, TypeError, OSError) as err:
            raise PacketNotMade(
                f"enclosure {enclosure.title!r} could not be added: {type(err).__name__}"
            ) from None
    out = io.BytesIO()
    writer.write(out)
    pages = len(writer.pages)
    writer.close()
    return out.getvalue(), pages
