"""Business time: the one place where "N business days (or hours) after T" becomes an instant.

Rules: R-BT (business days and hours) and R-CALL (call windows), as written in the domain notes.
Every SLA clock, task due instant and promise to a candidate is computed here, so the rules live
in one module and are tested in one place. Everything is pure: a :class:`Calendar` is a value,
and the caches below only remember what a calendar already determines.

Why it is shaped like this (speed): the SLA engine previews whole schedules and the sweep
recomputes due instants for many submissions, so one ``add_business_days`` call should cost well
under 5 µs. Walking day by day and asking a holiday list each time costs far more. Instead each
calendar keeps a table of its business days as ordinals (``date.toordinal()``) over whole years,
plus, for every calendar day in that range, the position of the first business day on or after
it. "N business days later" is then a couple of list look-ups, and a call makes exactly two time
zone conversions: into the calendar's zone, and back to UTC. The table grows lazily, a year range
at a time, and is replaced whole, so a reader never sees half of one.

Instants go in as timezone-aware datetimes (any zone) and always come out in UTC. Business hours
are local wall-clock times; by R-BT they never straddle a DST change, so a local wall time on a
business day always exists and converts to UTC with ``fold=0``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "CALL_WINDOWS",
    "MAX_YEAR",
    "MIN_YEAR",
    "Calendar",
    "add_business_days",
    "add_business_days_many",
    "add_business_hours",
    "holidays_for",
    "is_business_day",
    "next_call_window",
    "normalize",
]

MIN_YEAR: Final = 1900
"""First year business time is computed for. Bounds keep every call's work bounded (R-IN: an odd
date from an API caller becomes a ValueError, a 4xx, never a slow table build or a 500)."""
MAX_YEAR: Final = 2199
"""Last year business time is computed for (see MIN_YEAR)."""

CALL_WINDOWS: Final[tuple[tuple[time, time], ...]] = ((time(10), time(11)), (time(15), time(16)))
"""R-CALL: a contact's local 10:00-11:00 and 15:00-16:00 (not first thing, not over lunch, not at
the end of the day)."""

_MONDAY_TO_FRIDAY: Final = frozenset(range(5))
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_US_PER_SECOND: Final = 1_000_000
_US_PER_HOUR: Final = 3_600 * _US_PER_SECOND
_MAX_BUSINESS_DAYS: Final = 366 * (MAX_YEAR - MIN_YEAR + 1)
"""No N larger than this can land inside the supported years; refusing it up front avoids
building the whole table only to fail."""


# --- zones and holiday lists --------------------------------------------------------------------


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    """Resolve a zone name once, and turn every way a name can be wrong into one ValueError.

    ZoneInfo raises ZoneInfoNotFoundError (a KeyError), ValueError or OSError depending on how the
    name is wrong; callers (the API) should only have to map ValueError to a 4xx.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'America/New_York'"
        ) from exc


@lru_cache(maxsize=256)
def _check_country(country: str, subdivision: str | None) -> None:
    """Fail at construction, not at the first due date, when the holiday list does not exist.

    Cached so that building a Calendar per request from a database row stays cheap.
    """
    try:
        holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:
        where = country if subdivision is None else f"{country}/{subdivision}"
        raise ValueError(
            f"unknown holiday country or subdivision {where!r} "
            f"(use the codes of the `holidays` package, e.g. 'US', 'GB'/'ENG'): {exc}"
        ) from exc


@lru_cache(maxsize=2048)
def _country_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """The country's public holidays falling in `year`, computed once per (country, sub, year).

    The `holidays` package computes a year's list on demand and that is slow (milliseconds), so
    it must never run on the hot path. Observed days (a Saturday holiday observed on Friday) are
    included, because the office is closed on them.
    """
    found = holidays.country_holidays(country, subdiv=subdivision, years=year)
    return frozenset(d for d in found if d.year == year)


# --- the calendar ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Calendar:
    """A business calendar (R-BT): zone, working weekdays, holidays and business hours.

    Frozen and hashable, so it can be a cache key and be shared freely between requests and
    workers. Keyword-only, so a stored calendar can gain fields without breaking callers.

    - ``time_zone``: IANA name; business hours and dates are read in this zone.
    - ``weekdays``: working weekdays, 0=Monday .. 6=Sunday (Monday-Friday unless set).
    - ``country``/``subdivision``: the public holiday list, as the `holidays` package names them
      ("US"/"CA", "GB"/"ENG"); None for no public holidays.
    - ``closures``: the agency's own closure dates, added to the list.
    - ``removed_holidays``: dates taken off the country list (working days after all). An agency
      closure on the same date still wins: the agency said it is closed.
    - ``opens``/``closes``: local business hours, opens < closes (09:00-17:00 unless set).

    Equal calendars share one day table (see ``_state_for``), so rebuilding a Calendar from a
    database row on every request costs a dictionary look-up, not a table build.
    """

    time_zone: str
    weekdays: frozenset[int] = _MONDAY_TO_FRIDAY
    country: str | None = None
    subdivision: str | None = None
    closures: frozenset[date] = frozenset()
    removed_holidays: frozenset[date] = frozenset()
    opens: time = time(9)
    closes: time = time(17)
    _state: _CalendarState = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        """Validate everything up front: a bad calendar must fail where it is made, clearly."""
        # Callers may pass sets or lists at runtime; frozensets keep the calendar hashable.
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))
        object.__setattr__(self, "closures", frozenset(self.closures))
        object.__setattr__(self, "removed_holidays", frozenset(self.removed_holidays))

        if not isinstance(self.time_zone, str):
            raise ValueError(f"time_zone must be an IANA zone name, got {self.time_zone!r}")
        _zone(self.time_zone)
        if not self.weekdays:
            raise ValueError("a calendar needs at least one working weekday")
        if not all(isinstance(d, int) and 0 <= d <= 6 for d in self.weekdays):
            raise ValueError(
                f"weekdays must be integers 0 (Monday) to 6 (Sunday), got {sorted(self.weekdays)}"
            )
        for name in ("closures", "removed_holidays"):
            for day in getattr(self, name):
                # A datetime is a date subclass but never equals one, so it would be ignored.
                if isinstance(day, datetime) or not isinstance(day, date):
                    raise ValueError(f"{name} must hold dates, got {day!r}")
        for name in ("opens", "closes"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValueError(f"{name} must be a local wall-clock time without tzinfo")
        if self.opens >= self.closes:
            raise ValueError(
                f"business hours must open before they close, got {self.opens}-{self.closes}"
            )
        if self.subdivision is not None and self.country is None:
            raise ValueError("a holiday subdivision needs a country")
        if self.country is not None:
            _check_country(self.country, self.subdivision)
        object.__setattr__(self, "_state", _state_for(self))

    def __reduce__(self) -> tuple[Callable[[dict[str, Any]], Calendar], tuple[dict[str, Any]]]:
        """Pickle and (deep)copy by value: the shared state, lock included, is looked up again."""
        return _calendar_from_fields, (
            {f.name: getattr(self, f.name) for f in fields(self) if f.init},
        )


def _calendar_from_fields(values: dict[str, Any]) -> Calendar:
    return Calendar(**values)


# --- the per-calendar day table -----------------------------------------------------------------


class _Table:
    """Business days of whole years [first_year, last_year], as a snapshot never changed once
    published (only its numpy form, ``vec``, is attached later, and building it is idempotent).

    ``ordinals[i]`` is the i-th business day (``date.toordinal()``), ``dates[i]`` the same day as
    a date (saves building one on the hot path), and ``next_pos[o - first]`` the position of the
    first business day on or after ordinal ``o`` (``count`` when there is none in the table).
    Readers take one reference to a table and use only it, so a concurrent growth never mixes
    two generations.
    """

    __slots__ = (
        "count",
        "dates",
        "first",
        "first_year",
        "last_year",
        "next_pos",
        "ordinals",
        "vec",
    )

    def __init__(
        self, first_year: int, last_year: int, closed: frozenset[int], weekdays: frozenset[int]
    ) -> None:
        self.first_year = first_year
        self.last_year = last_year
        self.first = date(first_year, 1, 1).toordinal() if first_year else 0
        end = date(last_year + 1, 1, 1).toordinal() if first_year else 0
        # (ordinal + 6) % 7 is date.weekday(): ordinal 1 (0001-01-01) was a Monday.
        self.ordinals = [
            o for o in range(self.first, end) if (o + 6) % 7 in weekdays and o not in closed
        ]
        self.dates = [date.fromordinal(o) for o in self.ordinals]
        self.count = len(self.ordinals)
        next_pos: list[int] = []
        pos = 0
        for o in range(self.first, end):
            # ordinals[pos] >= o - 1 holds here, so one step is always enough.
            if pos < self.count and self.ordinals[pos] < o:
                pos += 1
            next_pos.append(pos)
        self.next_pos = next_pos
        self.vec: _Vector | None = None


_EMPTY_TABLE: Final = _Table(0, 0, frozenset(), frozenset())


class _CalendarState:
    """What a calendar determines but is costly to redo: its zone object and its day table.

    Held by the (frozen) Calendar in a field that takes no part in equality or hashing, and
    shared by equal calendars. Growth happens under a lock; reads take no lock.
    """

    __slots__ = ("_lock", "closes_us", "opens_us", "table", "zone")

    def __init__(self, cal: Calendar) -> None:
        self.zone = _zone(cal.time_zone)
        self.opens_us = _time_to_us(cal.opens)
        self.closes_us = _time_to_us(cal.closes)
        self.table = _EMPTY_TABLE
        self._lock = threading.Lock()

    def cover(self, cal: Calendar, ordinal: int) -> None:
        """Grow the table so it holds `ordinal` and a business day after it.

        A margin of a year either side means nearby calls (the common case: the next weeks)
        never grow it again.
        """
        year = _year_of(ordinal)
        with self._lock:
            tab = self.table
            i = ordinal - tab.first
            if 0 <= i < len(tab.next_pos) and tab.next_pos[i] < tab.count:
                return  # another thread grew it meanwhile
            if tab is _EMPTY_TABLE:
                lo, hi = year - 1, year + 2
            else:
                lo, hi = min(tab.first_year, year - 1), max(tab.last_year, year + 1)
                if (lo, hi) == (tab.first_year, tab.last_year):
                    hi += 1  # day is held but nothing after it is a business day: look further
            lo, hi = max(lo, MIN_YEAR), min(hi, MAX_YEAR)
            if (lo, hi) == (tab.first_year, tab.last_year):
                raise ValueError(
                    f"no business day found up to {MAX_YEAR}: business time is supported for "
                    f"the years {MIN_YEAR}-{MAX_YEAR}"
                )
            self.table = _build_table(cal, lo, hi)

    def grow_for(self, cal: Calendar, seen: _Table, target: int) -> None:
        """Grow the table forward until business-day position `target` exists (a far-off N).

        Growing forward keeps ``first_year``, so positions already computed stay valid; callers
        still recompute from the new table, which is simpler to reason about.
        """
        with self._lock:
            if self.table is not seen:
                return  # grown meanwhile; the caller retries with the new table
            years = seen.last_year - seen.first_year + 1
            per_year = max(1, seen.count // years)
            hi = min(MAX_YEAR, seen.last_year + (target - seen.count) // per_year + 1)
            if hi == seen.last_year:
                raise ValueError(
                    f"the result falls after {MAX_YEAR}: business time is supported for "
                    f"the years {MIN_YEAR}-{MAX_YEAR}"
                )
            self.table = _build_table(cal, seen.first_year, hi)


@lru_cache(maxsize=256)
def _state_for(cal: Calendar) -> _CalendarState:
    """One state per distinct calendar, so equal calendars share their day table."""
    return _CalendarState(cal)


def _build_table(cal: Calendar, first_year: int, last_year: int) -> _Table:
    closed = frozenset(
        d.toordinal() for year in range(first_year, last_year + 1) for d in holidays_for(cal, year)
    )
    return _Table(first_year, last_year, closed, cal.weekdays)


def _year_of(ordinal: int) -> int:
    if not date(MIN_YEAR, 1, 1).toordinal() <= ordinal < date(MAX_YEAR + 1, 1, 1).toordinal():
        raise ValueError(f"business time is supported for the years {MIN_YEAR}-{MAX_YEAR}")
    return date.fromordinal(ordinal).year


def _time_to_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US_PER_SECOND + t.microsecond


def _us_to_time(us: int) -> time:
    seconds, micro = divmod(us, _US_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, second, micro)


def _require_aware(t: datetime) -> None:
    # utcoffset() is None both for naive datetimes and for a tzinfo that declines to answer;
    # astimezone() would read either as the machine's local time, silently.
    if t.utcoffset() is None:
        raise ValueError(f"instants must be timezone-aware, got naive {t!r}")


def _normalised(cal: Calendar, st: _CalendarState, t: datetime) -> tuple[_Table, int, time]:
    """R-BT step 1 as (table, position of the business day, local wall time).

    The position may equal ``table.count`` (after closing on the table's last business day);
    callers check their final position against ``count`` and grow the table if needed.
    """
    _require_aware(t)
    local = t.astimezone(st.zone)
    ordinal = local.toordinal()
    tab = st.table
    i = ordinal - tab.first
    if not (0 <= i < len(tab.next_pos) and tab.next_pos[i] < tab.count):
        st.cover(cal, ordinal)
        tab = st.table
        i = ordinal - tab.first
    pos = tab.next_pos[i]
    if tab.ordinals[pos] != ordinal:  # not a business day: next business day's opening
        return tab, pos, cal.opens
    wall = local.time()
    if wall < cal.opens:
        return tab, pos, cal.opens
    if wall >= cal.closes:
        return tab, pos + 1, cal.opens
    if wall.fold:  # inside business hours fold never matters (R-BT); keep fold=0 as documented
        wall = wall.replace(fold=0)
    return tab, pos, wall


# --- public functions --------------------------------------------------------------------------


def holidays_for(cal: Calendar, year: int) -> frozenset[date]:
    """The dates in `year` on which the calendar is closed besides its non-working weekdays.

    Country list (with observed days) minus ``removed_holidays``, plus the agency's
    ``closures``. Built once per (calendar, year): the country part is cached per
    (country, subdivision, year), the whole per (calendar, year).
    """
    return _holidays_for(cal, year)


@lru_cache(maxsize=4096)
def _holidays_for(cal: Calendar, year: int) -> frozenset[date]:
    country = (
        _country_holidays(cal.country, cal.subdivision, year)
        if cal.country is not None
        else frozenset()
    )
    closures = {d for d in cal.closures if d.year == year}
    return (country - cal.removed_holidays) | closures


def is_business_day(cal: Calendar, d: date) -> bool:
    """Whether `d` is a working weekday of the calendar and not a holiday or closure.

    Takes a date, not a datetime: which date an instant falls on depends on the zone, so
    callers holding an instant should use :func:`normalize` instead.
    """
    if isinstance(d, datetime):
        raise TypeError("is_business_day takes a date; an instant's date depends on the zone")
    st = cal._state
    ordinal = d.toordinal()
    tab = st.table
    i = ordinal - tab.first
    if not (0 <= i < len(tab.next_pos) and tab.next_pos[i] < tab.count):
        st.cover(cal, ordinal)
        tab = st.table
        i = ordinal - tab.first
    return tab.ordinals[tab.next_pos[i]] == ordinal


def normalize(cal: Calendar, t: datetime) -> datetime:
    """R-BT step 1: the first business instant at or after `t`, in UTC.

    In the calendar's zone: before opening on a business day → that day's opening; at or after
    closing, or on a non-business day → the next business day's opening; otherwise `t` itself.
    The result is always on a business day within [opens, closes). Raises ValueError for a naive
    `t`: an instant without an offset is ambiguous, and guessing would move clocks by hours.
    """
    return add_business_days(cal, t, 0)


def add_business_days(cal: Calendar, t: datetime, n: int) -> datetime:
    """R-BT: N business days after `t`, in UTC (n >= 0; n=0 gives the normalised instant).

    Normalise `t` (step 1), move the date forward `n` business days keeping the local wall time
    (step 2), convert to UTC (step 3). So Friday 10:00 + 1 is Monday 10:00 local, whatever DST
    did over the weekend. Two table look-ups and two zone conversions: see the module docstring.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0 business days, got {n}")
    if n > _MAX_BUSINESS_DAYS:
        raise ValueError(f"n={n} business days falls after {MAX_YEAR}")
    st = cal._state
    while True:
        tab, pos, wall = _normalised(cal, st, t)
        target = pos + n
        if target < tab.count:
            return datetime.combine(tab.dates[target], wall, st.zone).astimezone(UTC)
        st.grow_for(cal, tab, target)


def _hours_to_us(hours: int | float | timedelta) -> int:
    if isinstance(hours, bool):  # True is an int; as an amount of hours it is surely a mistake
        raise TypeError("hours must be a number of hours or a timedelta, not a bool")
    if isinstance(hours, timedelta):
        amount = hours // _MICROSECOND
    elif isinstance(hours, int):
        amount = hours * _US_PER_HOUR
    elif isinstance(hours, float):
        if not math.isfinite(hours):
            raise ValueError(f"hours must be finite, got {hours}")
        amount = round(hours * _US_PER_HOUR)
    else:
        raise TypeError(f"hours must be a number of hours or a timedelta, got {hours!r}")
    if amount < 0:
        raise ValueError(f"business hours to add must be >= 0, got {hours}")
    return amount


def add_business_hours(cal: Calendar, t: datetime, hours: int | float | timedelta) -> datetime:
    """R-BT: `hours` of business time after `t`, in UTC, carrying into the next business days.

    Start from the normalised instant; spend what is left of that business day, then whole
    business days, then the rest from the next opening. An amount that ends exactly at closing
    gives that day's closing, not the next opening: 16:00 + 1h on a 09:00-17:00 day is 17:00 the
    same day (a review "due in 2 business hours" is due when the office closes, R-TY 4). So the
    result lies within [opens, closes], closing included. Zero hours gives the normalised instant.
    Floats are rounded to the microsecond.
    """
    amount = _hours_to_us(hours)
    st = cal._state
    opens_us, closes_us = st.opens_us, st.closes_us
    day_us = closes_us - opens_us
    while True:
        tab, pos, wall = _normalised(cal, st, t)
        wall_us = _time_to_us(wall)
        left_today = closes_us - wall_us
        if amount <= left_today:
            target, at_us = pos, wall_us + amount
        else:
            days, rest = divmod(amount - left_today, day_us)
            if rest == 0:
                target, at_us = pos + days, closes_us
            else:
                target, at_us = pos + days + 1, opens_us + rest
        if target < tab.count:
            day = tab.dates[target]
            return datetime.combine(day, _us_to_time(at_us), st.zone).astimezone(UTC)
        if target - pos > _MAX_BUSINESS_DAYS:
            raise ValueError(f"{hours} business hours falls after {MAX_YEAR}")
        st.grow_for(cal, tab, target)


def next_call_window(
    cal: Calendar, t: datetime, *, time_zone: str | None = None
) -> tuple[datetime, datetime]:
    """R-CALL: the next call window (start, end) in UTC at or after `t`.

    Windows are local 10:00-11:00 and 15:00-16:00 (CALL_WINDOWS) in `time_zone`, the contact's
    zone, or the calendar's zone when not given, on dates that are business days of `cal`
    (the client's calendar) read as the contact's local date. The windows are fixed local times,
    independent of the calendar's business hours. If `t` falls inside a window, that whole window
    is returned (its start may be before `t`), so a chase task shows the window as it is; at the
    window's end exactly, it is over and the next one is returned.
    """
    _require_aware(t)
    st = cal._state
    zone = st.zone if time_zone is None else _zone(time_zone)
    ordinal = t.astimezone(zone).toordinal()
    while True:
        if not _holds(st.table, ordinal):
            st.cover(cal, ordinal)
        tab = st.table
        pos = tab.next_pos[ordinal - tab.first]
        day = tab.dates[pos]
        for start, end in CALL_WINDOWS:
            end_at = datetime.combine(day, end, zone).astimezone(UTC)
            if t < end_at:
                return datetime.combine(day, start, zone).astimezone(UTC), end_at
        ordinal = tab.ordinals[pos] + 1  # every window of that day is over: the next business day


def _holds(tab: _Table, ordinal: int) -> bool:
    i = ordinal - tab.first
    return 0 <= i < len(tab.next_pos) and tab.next_pos[i] < tab.count


# --- the vectorised path -----------------------------------------------------------------------


class _Vector:
    """The table as numpy arrays, plus where each local day starts in UTC microseconds.

    ``day_start[k]`` is the UTC instant (µs since the epoch) of local midnight of table day k
    (k = 0 .. days, one past the end), so the local date of an instant is one searchsorted and
    its wall time a subtraction. That is exact only where the UTC offset is constant: ``calm[k]``
    says the offset at local noon is the same on days k-1, k and k+1, so no transition touches
    day k or its midnights. Instants on other days (a few a year) take the single-call path, so
    the results are identical to it, always.
    """

    __slots__ = ("calm", "day_start", "next_pos", "ordinals")

    def __init__(self, tab: _Table, zone: ZoneInfo) -> None:
        import numpy as np

        days = len(tab.next_pos)
        around = [date.fromordinal(tab.first + k) for k in range(-1, days + 2)]
        self.ordinals: npt.NDArray[np.int64] = np.array(tab.ordinals, dtype=np.int64)
        self.next_pos: npt.NDArray[np.int64] = np.array(tab.next_pos, dtype=np.int64)
        self.day_start: npt.NDArray[np.int64] = np.array(
            [(datetime.combine(d, time(0), zone) - _EPOCH) // _MICROSECOND for d in around[1:-1]],
            dtype=np.int64,
        )
        noon = [datetime.combine(d, time(12), zone).utcoffset() for d in around]
        self.calm: npt.NDArray[np.bool_] = np.array(
            [noon[k] == noon[k + 1] == noon[k + 2] for k in range(days)], dtype=np.bool_
        )


def add_business_days_many(cal: Calendar, starts: Sequence[datetime], n: int) -> list[datetime]:
    """``[add_business_days(cal, t, n) for t in starts]``, faster for many starts.

    For the sweep and schedule previews over many submissions. The date arithmetic runs in numpy
    over the same day table; only reading the datetimes in and building them out stays in Python.
    Instants on days touched by a DST transition fall back to the single call, so the results are
    identical to it. numpy is a development dependency today: without it, this is that loop.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0 business days, got {n}")
    if n > _MAX_BUSINESS_DAYS:
        raise ValueError(f"n={n} business days falls after {MAX_YEAR}")
    if not starts:
        return []
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is installed wherever tests run
        return [add_business_days(cal, t, n) for t in starts]

    try:
        us = np.array([(t - _EPOCH) // _MICROSECOND for t in starts], dtype=np.int64)
    except TypeError:
        for t in starts:
            _require_aware(t)
        raise
    st = cal._state
    # Normalising the earliest and latest starts grows the table over every start (it is
    # contiguous), and raises ValueError for starts outside the supported years.
    _normalised(cal, st, starts[int(us.argmin())])
    _normalised(cal, st, starts[int(us.argmax())])

    while True:
        tab = st.table
        vec = tab.vec
        if vec is None:
            vec = tab.vec = _Vector(tab, st.zone)  # idempotent, so a race only wastes work
        days, count = len(tab.next_pos), tab.count
        k = np.searchsorted(vec.day_start, us, side="right") - 1
        valid = (k >= 0) & (k < days)
        k = np.clip(k, 0, days - 1)
        nxt = vec.next_pos[k]
        valid &= nxt < count
        nxt = np.minimum(nxt, count - 1)
        tod = us - vec.day_start[k]
        business = vec.ordinals[nxt] == tab.first + k
        after = business & (tod >= st.closes_us)
        inside = business & (tod >= st.opens_us) & ~after
        pos = nxt + after + n
        top = int(np.where(valid, pos, 0).max())
        if top >= count:
            st.grow_for(cal, tab, top)
            continue
        pos = np.minimum(pos, count - 1)
        r = vec.ordinals[pos] - tab.first
        out = vec.day_start[r] + np.where(inside, tod, st.opens_us)
        slow = ~(valid & vec.calm[k] & vec.calm[r])
        break

    # numpy hands back naive UTC datetimes; combine() attaches UTC about 4x faster than
    # replace(tzinfo=UTC), which matters when building a hundred thousand of them.
    naive: list[datetime] = out.astype("datetime64[us]").tolist()
    combine = datetime.combine
    result = [combine(d, d.time(), UTC) for d in naive]
    for i in np.flatnonzero(slow).tolist():
        result[i] = add_business_days(cal, starts[i], n)
    return result
