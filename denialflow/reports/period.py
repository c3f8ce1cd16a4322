"""The filters every report page shares (a date range and a payer) and the practice's
days. Pure: no database, no clock unless one is passed in.

A report's range is a pair of practice dates, both included. `parse_filter` reads them
from a query string and never raises: whatever is wrong comes back as messages to show
above the report, and the field at fault takes its default, so the page still answers.
Rows are stored in UTC; a "day" of a report is a day on the practice's clock
(settings.tz), whose bounds in UTC `day_bounds_utc` gives (23 or 25 hours long on the
days the clocks change).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from urllib.parse import urlencode

from denialflow.domain.rules.calendar import practice_day

__all__ = [
    "EARLIEST",
    "MAX_YEARS",
    "ReportFilter",
    "add_years",
    "day_bounds_utc",
    "default_filter",
    "months",
    "parse_filter",
    "practice_day",
    "practice_today",
    "range_bounds_utc",
]

# No practice has claims older than this in denialflow; an earlier date is a typo.
EARLIEST = date(2000, 1, 1)
# The longest range a report reads at once (each page reads its rows in one go).
MAX_YEARS = 5
# How far ahead a range may end: budgets and payment plans look a little forward.
MAX_YEARS_AHEAD = 1
# A value echoed back in a message is cut to this many characters.
_ECHO = 40

# Query-string names: "from" and "to" read naturally in a link; the form uses them too.
FROM, TO, PAYER = "from", "to", "payer"


def add_years(day: date, years: int) -> date:
    """The same date `years` later (or earlier); February 29 becomes February 28."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _month_start(day: date, back: int = 0) -> date:
    """The first day of `day`'s month, `back` months earlier."""
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class ReportFilter:
    """A report's range, `start` to `end` with both days included, and optionally one
    payer (None: every payer)."""

    start: date
    end: date
    payer_id: str | None = None

    @property
    def days(self) -> int:
        """How many practice days the range holds."""
        return (self.end - self.start).days + 1

    def params(self) -> dict[str, str]:
        """The filter as query parameters, as `parse_filter` reads them."""
        values = {FROM: self.start.isoformat(), TO: self.end.isoformat()}
        if self.payer_id:
            values[PAYER] = self.payer_id
        return values

    def query_string(self, **extra: str | None) -> str:
        """The filter as a query string (no leading '?'), for links that keep it; `extra`
        parameters are added after it, and those given as None or '' left out."""
        values: dict[str, str] = self.params()
        values.update({k: v for k, v in extra.items() if v})
        return urlencode(values)


def default_filter(today: date) -> ReportFilter:
    """The last 12 full months and this month so far, every payer."""
    return ReportFilter(start=_month_start(today, back=12), end=today)


def _echo(raw: str) -> str:
    return repr(raw if len(raw) <= _ECHO else raw[:_ECHO] + "...")


def _parse_day(raw: str, label: str, today: date, problems: list[str]) -> date | None:
    """A YYYY-MM-DD date within the limits, or None with a message naming the field."""
    try:
        # fromisoformat also takes 20240105 and week dates; the form sends YYYY-MM-DD.
        if len(raw) != 10 or raw[4] != "-" or raw[7] != "-":
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        problems.append(f"{label} date: {_echo(raw)} is not a date in the form YYYY-MM-DD.")
        return None
    latest = add_years(today, MAX_YEARS_AHEAD)
    if day < EARLIEST:
        problems.append(f"{label} date: {day.isoformat()} is before {EARLIEST.isoformat()}.")
        return None
    if day > latest:
        problems.append(
            f"{label} date: {day.isoformat()} is more than {MAX_YEARS_AHEAD} year after "
            f"today (the latest is {latest.isoformat()})."
        )
        return None
    return day


def parse_filter(
    params: Mapping[str, str], today: date, payer_ids: Collection[str]
) -> tuple[ReportFilter, list[str]]:
    """The filter a query string asks for, and what was wrong with it.

    `from` and `to` are YYYY-MM-DD (either may be left out: the default range's end
    stands in); `payer` is a payer id or empty for every payer. A field that cannot be
    used takes its default and adds a message; a range that cannot be used (ending
    before it starts, longer than MAX_YEARS) is replaced by the default range."""
    problems: list[str] = []
    default = default_filter(today)
    raw_from = str(params.get(FROM) or "").strip()
    raw_to = str(params.get(TO) or "").strip()
    start = _parse_day(raw_from, "From", today, problems) if raw_from else None
    end = _parse_day(raw_to, "To", today, problems) if raw_to else None
    if start is None and end is None:
        start, end = default.start, default.end
    elif start is None:
        # Only an end: the same length as the default range, ending there.
        assert end is not None
        start = _month_start(end, back=12)
    elif end is None:
        end = max(start, default.end)
    if end < start:
        problems.append(
            f"The range ends ({end.isoformat()}) before it starts ({start.isoformat()}): "
            "showing the default range instead."
        )
        start, end = default.start, default.end
    elif start < add_years(end, -MAX_YEARS):
        problems.append(
            f"The range from {start.isoformat()} to {end.isoformat()} is longer than "
            f"{MAX_YEARS} years: showing the default range instead."
        )
        start, end = default.start, default.end

    payer_id: str | None = str(params.get(PAYER) or "").strip() or None
    if payer_id is not None and payer_id not in payer_ids:
        problems.append(f"Payer: there is no payer {_echo(payer_id)}; showing every payer.")
        payer_id = None
    return ReportFilter(start=start, end=end, payer_id=payer_id), problems


def months(start: date, end: date) -> list[date]:
    """The first day of every month from `start`'s to `end`'s, both included."""
    first, last = _month_start(start), _month_start(end)
    out: list[date] = []
    while first <= last:
        out.append(first)
        first = _month_start(first + timedelta(days=31))
    return out


def split_by_month(
    start: date, end: date
) -> tuple[tuple[date, date] | None, list[tuple[date, date]]]:
    """`start` to `end` as its whole months (the first days of the first and the last,
    or None) and the runs of days left over, each inside one month: a summary kept per
    month answers the whole months, one kept per day the rest."""
    first = start if start.day == 1 else _month_start(start, back=-1)
    stop = _month_start(end + timedelta(days=1))  # the day after the last whole month
    if first >= stop:
        if _month_start(start) == _month_start(end):
            return None, [(start, end)]
        return None, [(start, _month_start(end) - timedelta(days=1)), (_month_start(end), end)]
    partial = []
    if start < first:
        partial.append((start, first - timedelta(days=1)))
    if stop <= end:
        partial.append((stop, end))
    return (first, _month_start(stop, back=1)), partial


def practice_today(tz: tzinfo, now: datetime | None = None) -> date:
    """Today on the practice's clock (`now`, naive meaning UTC, or the real time)."""
    return practice_day(now or datetime.now(UTC), tz)


def day_bounds_utc(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The practice day `day` as a half-open UTC range [start, end): from its midnight
    to the next day's, on the practice's clock (23 or 25 hours when the clocks change)."""
    start = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return start, end


def range_bounds_utc(flt: ReportFilter, tz: tzinfo) -> tuple[datetime, datetime]:
    """A report's whole range as a half-open UTC range, for a WHERE clause."""
    return day_bounds_utc(flt.start, tz)[0], day_bounds_utc(flt.end, tz)[1]
