"""X12 reading layer: tokenizer plus 835, 277/277CA, 999, 837 and 270/271 readers.

Pure functions over text; no database and no Temporal. Money is Decimal cents
(`denialflow.domain.types.Money`); malformed input raises `X12Error`.
"""

from denialflow.edi.errors import X12Error
from denialflow.edi.reader import parse_document, parse_file, parse_transaction
from denialflow.edi.tokenizer import read_x12, tokenize

__all__ = [
    "X12Error",
    "parse_document",
    "parse_file",
    "parse_transaction",
    "read_x12",
    "tokenize",
]
