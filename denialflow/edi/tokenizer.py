"""Split an X12 file into interchanges, functional groups and transaction sets.

One tokenizer serves every transaction type. Segments stay plain lists of
element strings (element 0 is the segment id) because this is the hot path:
a 300 KB file must tokenize in about the time of a bare str.split pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from denialflow.edi.errors import X12Error

ISA_LENGTH = 106  # the ISA is fixed width; its terminator is the 106th character
# Where the 16 element separators of a fixed-width ISA must sit.
_ISA_SEPARATORS = (3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103)
_ENVELOPE = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE"})
_WHITESPACE = " \t\r\n"
# SE01 is at most 10 digits, GE01 6 and IEA01 5; anything longer is not a count.
_MAX_COUNT_DIGITS = 10
_QUOTE_LIMIT = 30


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str
    repetition: str  # "" when ISA11 holds a 4010-style standards id such as "U"
    component: str
    segment: str


@dataclass(slots=True)
class Transaction:
    """One ST..SE transaction set; `segments` includes ST and SE."""

    set_id: str  # ST01
    control_number: str  # ST02
    version: str  # ST03, else GS08
    functional_id: str  # GS01
    segments: list[list[str]]
    first_segment: int  # file position (1-based) of the ST
    delimiters: Delimiters
    file: str

    def number(self, offset: int) -> int:
        return self.first_segment + offset

    def error(self, offset: int, message: str) -> X12Error:
        return X12Error(self.file, self.first_segment + offset, self.segments[offset][0], message)


@dataclass(slots=True)
class FunctionalGroup:
    functional_id: str  # GS01, e.g. HP for 835, HC for 837
    sender: str
    receiver: str
    control_number: str  # GS06
    version: str  # GS08
    transactions: list[Transaction] = field(default_factory=list)


@dataclass(slots=True)
class Interchange:
    control_number: str  # ISA13
    sender: str
    receiver: str
    date: str  # ISA09, YYMMDD
    usage: str  # ISA15, P production / T test
    delimiters: Delimiters
    groups: list[FunctionalGroup] = field(default_factory=list)


@dataclass(slots=True)
class X12Document:
    file: str
    interchanges: list[Interchange] = field(default_factory=list)
    # Envelope count/control-number mismatches, filled only when strict=False.
    warnings: list[str] = field(default_factory=list)

    @property
    def transactions(self) -> list[Transaction]:
        return [t for i in self.interchanges for g in i.groups for t in g.transactions]


def quoted(value: str) -> str:
    """repr() of an element for an error message, cut short: a broken file can hold
    an element megabytes long, and the message must stay one readable line."""
    if len(value) <= _QUOTE_LIMIT:
        return repr(value)
    return repr(value[:_QUOTE_LIMIT]) + f"... ({len(value)} characters)"


def decode(data: bytes) -> str:
    """X12 is ASCII in practice; latin-1 keeps a stray byte from failing the whole file."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_x12(path: str | Path, *, strict: bool = True) -> X12Document:
    """Tokenize a file; errors name the path exactly as given."""
    return tokenize(decode(Path(path).read_bytes()), str(path), strict=strict)


def read_delimiters(text: str, file: str = "<string>", segment_number: int = 1) -> Delimiters:
    """Delimiters of the ISA that `text` starts with."""
    if not text.startswith("ISA"):
        found = text[:3].strip() or "?"
        raise X12Error(file, segment_number, found, "expected ISA: not an X12 interchange")
    if len(text) < ISA_LENGTH:
        raise X12Error(file, segment_number, "ISA", "ISA is shorter than 106 characters")
    element = text[3]
    if element.isalnum() or element in _WHITESPACE:
        raise X12Error(file, segment_number, "ISA", f"invalid element separator {element!r}")
    if any(text[p] != element for p in _ISA_SEPARATORS):
        raise X12Error(
            file, segment_number, "ISA", "ISA is not fixed width (106 characters, padded fields)"
        )
    repetition, component, segment = text[82], text[104], text[105]
    if repetition.isalnum():
        repetition = ""
    chosen = [element, component, segment] + ([repetition] if repetition else [])
    if len(set(chosen)) != len(chosen) or component.isalnum() or segment.isalnum():
        raise X12Error(file, segment_number, "ISA", f"ambiguous delimiters {chosen!r}")
    return Delimiters(element, repetition, component, segment)


def tokenize(text: str, file: str = "<string>", *, strict: bool = True) -> X12Document:
    """Tokenize and check envelopes. With strict=False, count and control-number
    mismatches become `warnings` instead of errors; broken nesting always raises."""
    doc = X12Document(file)
    text = text.lstrip("\ufeff" + _WHITESPACE).rstrip(_WHITESPACE)
    if not text:
        raise X12Error(file, 1, "?", "empty file: no ISA segment")
    base = 0
    while True:
        delimiters = read_delimiters(text, file, base + 1)
        segments = _split(text, delimiters)
        restart = _Walk(doc, segments, delimiters, base, strict).run()
        if restart is None:
            return doc
        # A later interchange uses other delimiters: re-split from its ISA.
        text = text[_offset_of(text, delimiters.segment, restart) :]
        base += restart


def _split(text: str, d: Delimiters) -> list[list[str]]:
    raw = text.split(d.segment)
    sep = d.element
    t = d.segment
    # One C-speed scan decides whether the per-segment strip is needed at all.
    if t in "\r\n" or "\n" in text or "\r" in text or (t + " ") in text or (t + "\t") in text:
        return [s.split(sep) for s in map(str.strip, raw) if s]
    return [s.split(sep) for s in raw if s]


def _offset_of(text: str, terminator: str, index: int) -> int:
    """Character offset of segment `index` as _split counts segments."""
    pos = 0
    seen = 0
    for chunk in text.split(terminator):
        stripped = chunk.lstrip()
        if stripped.strip():
            if seen == index:
                return pos + len(chunk) - len(stripped)
            seen += 1
        pos += len(chunk) + len(terminator)
    return len(text)


def _same_delimiters(seg: list[str], d: Delimiters) -> bool:
    # Split with our delimiters, an ISA using the same ones has exactly 17 parts
    # and a one-character ISA16; another terminator would glue on the next segment.
    if len(seg) != 17 or seg[16] != d.component:
        return False
    repetition = "" if seg[11].isalnum() else seg[11]
    return repetition == d.repetition


class _Walk:
    """Envelope state machine over the envelope segments only (the rest are skipped)."""

    def __init__(
        self, doc: X12Document, segs: list[list[str]], d: Delimiters, base: int, strict: bool
    ) -> None:
        self.doc, self.segs, self.d, self.base, self.strict = doc, segs, d, base, strict
        self.interchange: Interchange | None = None
        self.group: FunctionalGroup | None = None
        self.st: int | None = None

    def error(self, i: int, message: str) -> X12Error:
        return X12Error(self.doc.file, self.base + i + 1, self.segs[i][0], message)

    def mismatch(self, i: int, message: str) -> None:
        if self.strict:
            raise self.error(i, message)
        self.doc.warnings.append(str(self.error(i, message)))

    def count(self, i: int, label: str, value: str, expected: int, what: str) -> None:
        digits = value.strip()
        if not (digits.isascii() and digits.isdigit()):
            raise self.error(i, f"{label} {quoted(value)} is not a number")
        if len(digits) > _MAX_COUNT_DIGITS:
            raise self.error(
                i, f"{label} has {len(digits)} digits; a count has at most {_MAX_COUNT_DIGITS}"
            )
        if int(digits) != expected:
            self.mismatch(i, f"{label} says {int(digits)} {what}, counted {expected}")

    def same(self, i: int, label: str, value: str, other_label: str, other: str) -> None:
        if value.strip() != other.strip():
            self.mismatch(
                i, f"{label} {quoted(value)} does not match {other_label} {quoted(other)}"
            )

    def run(self) -> int | None:
        segs = self.segs
        envelope = [i for i, s in enumerate(segs) if s[0] in _ENVELOPE]
        prev = -1
        for i in envelope:
            if i - prev > 1 and self.st is None:
                stray = self.stray(prev + 1)
                if stray is not None:
                    return stray
            prev = i
            seg = segs[i]
            sid = seg[0]
            if sid == "ISA":
                if i > 0 and self.interchange is None and not _same_delimiters(seg, self.d):
                    return i
                self.open_interchange(i, seg)
            elif sid == "GS":
                self.open_group(i, seg)
            elif sid == "ST":
                if self.group is None:
                    raise self.error(i, "ST outside a functional group (GS..GE)")
                if self.st is not None:
                    raise self.error(
                        i, f"ST before SE closed transaction {quoted(_el(segs[self.st], 2))}"
                    )
                self.st = i
            elif sid == "SE":
                self.close_transaction(i, seg)
            elif sid == "GE":
                self.close_group(i, seg)
            else:
                self.close_interchange(i, seg)
        if prev < len(segs) - 1 and self.st is None:
            stray = self.stray(prev + 1)
            if stray is not None:
                return stray
        last = len(segs) - 1
        if self.st is not None:
            raise self.error(
                last, f"file ends inside transaction {quoted(_el(segs[self.st], 2))}: no SE"
            )
        if self.group is not None:
            raise self.error(
                last, f"file ends inside group {quoted(self.group.control_number)}: no GE"
            )
        if self.interchange is not None:
            ctrl = self.interchange.control_number
            raise self.error(last, f"file ends inside interchange {quoted(ctrl)}: no IEA")
        return None

    def stray(self, i: int) -> int | None:
        """A non-envelope segment outside ST..SE: an error, unless it is an ISA
        written with other delimiters (then tokenizing restarts there)."""
        if self.interchange is None and self.segs[i][0].startswith("ISA"):
            return i
        if self.interchange is None:
            raise self.error(i, "segment outside an interchange (ISA..IEA)")
        if self.group is None:
            raise self.error(i, "segment outside a functional group (GS..GE)")
        raise self.error(i, "segment outside a transaction set (ST..SE)")

    def open_interchange(self, i: int, seg: list[str]) -> None:
        if self.interchange is not None:
            ctrl = self.interchange.control_number
            raise self.error(i, f"ISA inside interchange {quoted(ctrl)}: IEA missing")
        if len(seg) != 17:
            raise self.error(i, f"ISA has {len(seg) - 1} elements, expected 16")
        self.interchange = Interchange(
            control_number=seg[13].strip(),
            sender=seg[6].strip(),
            receiver=seg[8].strip(),
            date=seg[9],
            usage=seg[15],
            delimiters=self.d,
        )
        self.doc.interchanges.append(self.interchange)

    def open_group(self, i: int, seg: list[str]) -> None:
        if self.interchange is None:
            raise self.error(i, "GS outside an interchange (ISA..IEA)")
        if self.group is not None:
            raise self.error(i, f"GS inside group {quoted(self.group.control_number)}: GE missing")
        self.group = FunctionalGroup(
            functional_id=_el(seg, 1),
            sender=_el(seg, 2),
            receiver=_el(seg, 3),
            control_number=_el(seg, 6).strip(),
            version=_el(seg, 8),
        )
        self.interchange.groups.append(self.group)

    def close_transaction(self, i: int, seg: list[str]) -> None:
        if self.st is None or self.group is None:
            raise self.error(i, "SE without ST")
        st = self.segs[self.st]
        self.count(i, "SE01", _el(seg, 1), i - self.st + 1, "segments")
        self.same(i, "SE02", _el(seg, 2), "ST02", _el(st, 2))
        self.group.transactions.append(
            Transaction(
                set_id=_el(st, 1),
                control_number=_el(st, 2),
                version=_el(st, 3) or self.group.version,
                functional_id=self.group.functional_id,
                segments=self.segs[self.st : i + 1],
                first_segment=self.base + self.st + 1,
                delimiters=self.d,
                file=self.doc.file,
            )
        )
        self.st = None

    def close_group(self, i: int, seg: list[str]) -> None:
        if self.group is None:
            raise self.error(i, "GE without GS")
        if self.st is not None:
            raise self.error(
                i, f"GE before SE closed transaction {quoted(_el(self.segs[self.st], 2))}"
            )
        self.count(i, "GE01", _el(seg, 1), len(self.group.transactions), "transaction sets")
        self.same(i, "GE02", _el(seg, 2), "GS06", self.group.control_number)
        self.group = None

    def close_interchange(self, i: int, seg: list[str]) -> None:
        if self.interchange is None:
            raise self.error(i, "IEA without ISA")
        if self.group is not None:
            raise self.error(i, f"IEA before GE closed group {quoted(self.group.control_number)}")
        self.count(i, "IEA01", _el(seg, 1), len(self.interchange.groups), "functional groups")
        self.same(i, "IEA02", _el(seg, 2), "ISA13", self.interchange.control_number)
        self.interchange = None


def _el(seg: list[str], i: int) -> str:
    return seg[i] if i < len(seg) else ""
