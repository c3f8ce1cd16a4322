"""How our workflows' inputs, results and state cross Temporal: pydantic JSON.

Temporal's pydantic converter keeps a cache of pydantic TypeAdapters per converter,
and the worker makes a new converter for every workflow it runs, so each cached
claim built and kept TypeAdapters of its own (about 5 KiB and a few ms of CPU each
time). The types are the same for every workflow, and a TypeAdapter is safe to
share, so this converter keeps one cache for the process.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from pydantic import TypeAdapter
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    PayloadCodec,
)

_type_adapters = functools.lru_cache(maxsize=1024)(TypeAdapter)


class _SharedAdaptersJSONConverter(PydanticJSONPlainPayloadConverter):
    def __init__(self) -> None:
        super().__init__()
        self._type_adapter: Any = _type_adapters


class PayloadConverter(CompositePayloadConverter):
    """Temporal's default converters, with pydantic JSON in place of plain JSON."""

    def __init__(self) -> None:
        json_converter = _SharedAdaptersJSONConverter()
        super().__init__(
            *(
                json_converter if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


DATA_CONVERTER = DataConverter(payload_converter_class=PayloadConverter)


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """DATA_CONVERTER plus the codec; keys are passed in so importing has no side effects.
    Every client and test environment uses one of these with the encryption codec:
    DATA_CONVERTER alone would send PHI to Temporal in the clear."""
    return dataclasses.replace(DATA_CONVERTER, payload_codec=codec)
