"""The JSON a report chart is drawn from (static/charts.js reads it; the page embeds it
with the `chart` macro of partials/report_macros.html). Pure.

Jinja's `tojson` cannot write a Decimal, and a chart needs numbers, not money strings:
`chart_spec` turns every value into an int or a float (None stays null, a gap)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

__all__ = ["chart_spec", "number"]

Unit = Literal["percent", "dollars", "hours", "count"]


def number(value: object) -> int | float | None:
    """A value a chart can plot: ints stay ints, Decimals and the rest become floats."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal | float):
        return float(value)
    raise TypeError(f"a chart plots numbers, not {type(value).__name__}")


def chart_spec(
    kind: Literal["line", "bar"],
    labels: Sequence[str],
    datasets: Sequence[tuple[str, Sequence[object]]],
    *,
    unit: Unit = "count",
    reference: object = None,
    reference_label: str | None = None,
    stacked: bool = False,
    links: Sequence[str] | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON for one chart: `datasets` are (label, values) pairs, each as long as
    `labels`; `links` (as long as `labels`) make a click on a bar or point open that
    page."""
    for label, values in datasets:
        if len(values) != len(labels):
            raise ValueError(f"dataset {label!r} has {len(values)} values for {len(labels)} labels")
    if links is not None and len(links) != len(labels):
        raise ValueError(f"{len(links)} links for {len(labels)} labels")
    spec: dict[str, Any] = {
        "type": kind,
        "labels": list(labels),
        "datasets": [
            {"label": label, "data": [number(v) for v in values]} for label, values in datasets
        ],
        "unit": unit,
    }
    if reference is not None:
        spec["reference"] = number(reference)
        if reference_label:
            spec["reference_label"] = reference_label
    if stacked:
        spec["stacked"] = True
    if links is not None:
        spec["links"] = list(links)
    if options:
        spec["options"] = options
    return spec
