"""The one error type the X12 layer raises for malformed input."""

from __future__ import annotations


class X12Error(ValueError):
    """Malformed X12, located by file name and 1-based segment position in the file.

    Callers print str(error) as-is, so it must stay one line and name the place.
    """

    def __init__(self, file: str, segment_number: int, segment_id: str, message: str) -> None:
        self.file = file
        self.segment_number = segment_number
        self.segment_id = segment_id
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        # A broken file can glue a whole document into one "segment id".
        sid = self.segment_id if len(self.segment_id) <= 8 else self.segment_id[:8] + "..."
        where = f"segment {self.segment_number} ({sid})"
        text = f"{self.file}: {where}: {self.message}"
        # A stray newline from file content must not split the one-line report.
        return " ".join(text.splitlines())

    def __reduce__(self) -> tuple[type[X12Error], tuple[str, int, str, str]]:
        # Keeps the error picklable (e.g. across process or activity boundaries).
        return (X12Error, (self.file, self.segment_number, self.segment_id, self.message))
