"""`python -m denialflow.edi.cli FILE`: print every transaction of an X12 file as JSON.

Every kind the edi layer reads is shown, eligibility (270/271) included.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from denialflow.edi.errors import X12Error
from denialflow.edi.jsonview import transaction_json
from denialflow.edi.reader import parse_file

EXIT_MALFORMED = 2


def parse_command(path: str, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Write one JSON document {"transactions": [...]} to `out` and return 0; on
    malformed or unreadable input write one line naming file and segment to
    `err` and return 2. Never lets a traceback reach the user."""
    try:
        document = {
            "transactions": [transaction_json(p) for p in parse_file(path, eligibility=True)]
        }
    except X12Error as exc:
        return _fail(err, str(exc))
    except OSError as exc:
        return _fail(err, f"{path}: cannot read: {exc.strerror or exc}")
    except Exception as exc:  # a reader bug must still end in one line, not a traceback
        return _fail(err, f"{path}: could not be read: {type(exc).__name__}: {exc}")
    out.write(json.dumps(document, indent=2) + "\n")
    return 0


def _fail(err: TextIO, message: str) -> int:
    err.write(" ".join(message.splitlines()) + "\n")
    return EXIT_MALFORMED


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m denialflow.edi.cli FILE\n")
        return EXIT_MALFORMED
    return parse_command(args[0])


if __name__ == "__main__":
    sys.exit(main())
