"""Property tests for business time (R-BT) and call windows (R-CALL).

The table tests pin hand-worked cases; these check the rules over many instants and several
calendars: a Monday-Friday week in a northern DST zone (US/New York), a zone on GMT/BST with
subdivision holidays (GB-ENG/London), a Sunday-Thursday week (IL/Jerusalem) and a southern DST
zone with odd business hours and an agency closure (AU-NSW/Sydney). Where a property needs an
oracle it is an independent one: numpy's ``busday_offset`` for the day arithmetic, a brute-force
walk over days for call windows.

``database=None``: Hypothesis would otherwise write an example database into the repository.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.calendar import business_time as bt

PROPERTY = settings(max_examples=200, deadline=None, database=None)

US_NEW_YORK = bt.Calendar(time_zone="America/New_York", country="US")
GB_LONDON = bt.Calendar(time_zone="Europe/London", country="GB", subdivision="ENG")
IL_JERUSALEM = bt.Calendar(
    time_zone="Asia/Jerusalem", country="IL", weekdays=frozenset({6, 0, 1, 2, 3})
)
AU_SYDNEY = bt.Calendar(
    time_zone="Australia/Sydney",
    country="AU",
    subdivision="NSW",
    opens=time(8, 30),
    closes=time(18, 15),
    closures=frozenset({date(2030, 12, 24), date(2031, 1, 2)}),
)
CALENDARS = [US_NEW_YORK, GB_LONDON, IL_JERUSALEM, AU_SYDNEY]

FIRST_DAY, LAST_DAY = date(2020, 1, 1), date(2059, 12, 31)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOW_US = (datetime.combine(FIRST_DAY, time(0), UTC) - EPOCH) // timedelta(microseconds=1)
HIGH_US = (datetime.combine(LAST_DAY, time(0), UTC) - EPOCH) // timedelta(microseconds=1)
INPUT_ZONES: list[timezone | ZoneInfo] = [
    UTC,
    ZoneInfo("America/New_York"),
    ZoneInfo("Europe/London"),
    ZoneInfo("Asia/Kolkata"),
    timezone(timedelta(hours=-3, minutes=-30)),
]

calendars = st.sampled_from(CALENDARS)
days_to_add = st.integers(min_value=0, max_value=40)


def _just_before(t: time) -> time:
    return (datetime.combine(FIRST_DAY, t) - timedelta(microseconds=1)).time()


@st.composite
def instants(draw: st.DrawFn, cal: bt.Calendar) -> datetime:
    """Any instant, often an exact opening or closing (where off-by-one errors live)."""
    if draw(st.booleans()):
        at = EPOCH + timedelta(microseconds=draw(st.integers(LOW_US, HIGH_US)))
    else:
        day = draw(st.dates(FIRST_DAY, LAST_DAY))
        edges = [cal.opens, cal.closes, _just_before(cal.opens), _just_before(cal.closes)]
        wall = draw(st.sampled_from(edges) | st.times())
        at = datetime.combine(day, wall, ZoneInfo(cal.time_zone))
    return at.astimezone(draw(st.sampled_from(INPUT_ZONES)))


def local(cal: bt.Calendar, t: datetime) -> datetime:
    return t.astimezone(ZoneInfo(cal.time_zone))


def is_open_day(cal: bt.Calendar, d: date) -> bool:
    """Independent of the module's day table: weekday and the holiday list only."""
    return d.weekday() in cal.weekdays and d not in bt.holidays_for(cal, d.year)


def assert_business_instant(cal: bt.Calendar, t: datetime, *, closing_allowed: bool) -> None:
    assert t.tzinfo is UTC
    wall = local(cal, t)
    assert is_open_day(cal, wall.date()), wall
    assert cal.opens <= wall.time().replace(fold=0)
    if closing_allowed:
        assert wall.time() <= cal.closes, wall
    else:
        assert wall.time() < cal.closes, wall


@cache
def numpy_calendar(cal: bt.Calendar) -> np.busdaycalendar:
    closed = sorted(d for year in range(2019, 2063) for d in bt.holidays_for(cal, year))
    weekmask = [1 if day in cal.weekdays else 0 for day in range(7)]
    return np.busdaycalendar(weekmask=weekmask, holidays=np.array(closed, dtype="datetime64[D]"))


class TestBusinessDayProperties:
    """R-BT: adding business days, over many instants and calendars."""

    @PROPERTY
    @given(st.data(), calendars, days_to_add)
    def test_result_is_a_business_instant__R_BT_1(
        self, data: st.DataObject, cal: bt.Calendar, n: int
    ) -> None:
        t = data.draw(instants(cal))
        assert_business_instant(cal, bt.add_business_days(cal, t, n), closing_allowed=False)

    @PROPERTY
    @given(st.data(), calendars, days_to_add)
    def test_agrees_with_numpy_busday_offset__R_BT_2(
        self, data: st.DataObject, cal: bt.Calendar, n: int
    ) -> None:
        t = data.draw(instants(cal))
        wall = local(cal, t)
        day, clock = wall.date(), wall.time().replace(fold=0)
        open_day = bool(np.is_busday(day, busdaycal=numpy_calendar(cal)))
        after_closing = open_day and clock >= cal.closes
        expected_day = np.busday_offset(
            day, n + after_closing, roll="forward", busdaycal=numpy_calendar(cal)
        )
        inside = open_day and cal.opens <= clock < cal.closes
        result = local(cal, bt.add_business_days(cal, t, n))
        assert np.datetime64(result.date()) == expected_day
        assert result.time() == (clock if inside else cal.opens)

    @PROPERTY
    @given(st.data(), calendars, days_to_add, days_to_add)
    def test_adding_is_monotonic_in_n__R_BT_2(
        self, data: st.DataObject, cal: bt.Calendar, n: int, more: int
    ) -> None:
        t = data.draw(instants(cal))
        earlier, later = bt.add_business_days(cal, t, n), bt.add_business_days(cal, t, n + more)
        assert earlier < later if more else earlier == later

    @PROPERTY
    @given(st.data(), calendars, days_to_add)
    def test_adding_is_monotonic_in_t__R_BT_2(
        self, data: st.DataObject, cal: bt.Calendar, n: int
    ) -> None:
        t1, t2 = sorted([data.draw(instants(cal)), data.draw(instants(cal))])
        assert bt.add_business_days(cal, t1, n) <= bt.add_business_days(cal, t2, n)

    @PROPERTY
    @given(st.data(), calendars, days_to_add, days_to_add)
    def test_adding_composes__R_BT_2(
        self, data: st.DataObject, cal: bt.Calendar, n: int, m: int
    ) -> None:
        # Holds for every t, not only inside business hours: the first result already is.
        t = data.draw(instants(cal))
        once = bt.add_business_days(cal, t, n + m)
        assert bt.add_business_days(cal, bt.add_business_days(cal, t, n), m) == once

    @PROPERTY
    @given(st.data(), calendars)
    def test_normalising_is_idempotent_and_never_goes_back__R_BT_1(
        self, data: st.DataObject, cal: bt.Calendar
    ) -> None:
        t = data.draw(instants(cal))
        normal = bt.normalize(cal, t)
        assert normal >= t
        assert bt.normalize(cal, normal) == normal
        wall = local(cal, t)
        inside = is_open_day(cal, wall.date()) and cal.opens <= wall.time() < cal.closes
        assert (normal == t) is inside

    @PROPERTY
    @given(st.data(), calendars, days_to_add)
    def test_vectorised_equals_single_calls__R_BT(
        self, data: st.DataObject, cal: bt.Calendar, n: int
    ) -> None:
        starts = data.draw(st.lists(instants(cal), max_size=40))
        assert bt.add_business_days_many(cal, starts, n) == [
            bt.add_business_days(cal, t, n) for t in starts
        ]


business_hours = st.one_of(
    st.integers(min_value=0, max_value=200),
    st.builds(lambda us: timedelta(microseconds=us), st.integers(min_value=0, max_value=10**11)),
)


class TestBusinessHourProperties:
    """R-BT: adding business hours."""

    @PROPERTY
    @given(st.data(), calendars, business_hours)
    def test_result_is_within_business_hours__R_BT(
        self, data: st.DataObject, cal: bt.Calendar, hours: int | timedelta
    ) -> None:
        t = data.draw(instants(cal))
        result = bt.add_business_hours(cal, t, hours)
        assert_business_instant(cal, result, closing_allowed=True)
        assert result >= bt.normalize(cal, t)

    @PROPERTY
    @given(st.data(), calendars, business_hours, business_hours)
    def test_hours_compose_when_the_second_amount_is_positive__R_BT(
        self, data: st.DataObject, cal: bt.Calendar, a: int | timedelta, b: int | timedelta
    ) -> None:
        # With b = 0 a result at closing would normalise to the next opening; see the docstring
        # of add_business_hours for why closing is kept.
        first, second = _as_timedelta(a), _as_timedelta(b) + timedelta(microseconds=1)
        t = data.draw(instants(cal))
        stepwise = bt.add_business_hours(cal, bt.add_business_hours(cal, t, first), second)
        assert stepwise == bt.add_business_hours(cal, t, first + second)

    @PROPERTY
    @given(st.data(), calendars, business_hours, business_hours)
    def test_hours_are_monotonic__R_BT(
        self, data: st.DataObject, cal: bt.Calendar, a: int | timedelta, b: int | timedelta
    ) -> None:
        t = data.draw(instants(cal))
        shorter, longer = sorted([_as_timedelta(a), _as_timedelta(b)])
        assert bt.add_business_hours(cal, t, shorter) <= bt.add_business_hours(cal, t, longer)

    @PROPERTY
    @given(st.data(), calendars, st.integers(min_value=1, max_value=30))
    def test_a_business_day_of_hours_is_a_business_day__R_BT(
        self, data: st.DataObject, cal: bt.Calendar, k: int
    ) -> None:
        t = data.draw(instants(cal))
        day = datetime.combine(FIRST_DAY, cal.closes) - datetime.combine(FIRST_DAY, cal.opens)
        by_hours = bt.add_business_hours(cal, t, day * k)
        # k days of hours from an opening end at a closing: the same business instant.
        assert bt.normalize(cal, by_hours) == bt.add_business_days(cal, t, k)

    @PROPERTY
    @given(st.data(), calendars)
    def test_zero_hours_is_the_normalised_instant__R_BT(
        self, data: st.DataObject, cal: bt.Calendar
    ) -> None:
        t = data.draw(instants(cal))
        assert bt.add_business_hours(cal, t, 0) == bt.normalize(cal, t)


def _as_timedelta(hours: int | timedelta) -> timedelta:
    return hours if isinstance(hours, timedelta) else timedelta(hours=hours)


contact_zones = st.sampled_from(
    [None, "America/Los_Angeles", "Europe/London", "Asia/Tokyo", "Australia/Sydney"]
)


def brute_force_window(
    cal: bt.Calendar, t: datetime, zone_name: str | None
) -> tuple[datetime, datetime]:
    """Walk day by day from t's local date: the first window of an open day not over at t."""
    zone = ZoneInfo(zone_name or cal.time_zone)
    day = t.astimezone(zone).date()
    while True:
        if is_open_day(cal, day):
            for start, end in ((time(10), time(11)), (time(15), time(16))):
                window = (
                    datetime.combine(day, start, zone).astimezone(UTC),
                    datetime.combine(day, end, zone).astimezone(UTC),
                )
                if t < window[1]:
                    return window
        day += timedelta(days=1)


class TestCallWindowProperties:
    """R-CALL: the next call window, in the contact's zone, on the client's business days."""

    @PROPERTY
    @given(st.data(), calendars, contact_zones)
    def test_window_is_the_first_one_not_over__R_CALL(
        self, data: st.DataObject, cal: bt.Calendar, zone: str | None
    ) -> None:
        t = data.draw(instants(cal))
        window = bt.next_call_window(cal, t, time_zone=zone)
        assert window == brute_force_window(cal, t, zone)
        start, end = window
        assert start.tzinfo is UTC and end.tzinfo is UTC
        assert end - start == timedelta(hours=1)
        assert t < end

    @PROPERTY
    @given(st.data(), calendars, contact_zones)
    def test_window_is_stable_inside_and_moves_on_at_its_end__R_CALL(
        self, data: st.DataObject, cal: bt.Calendar, zone: str | None
    ) -> None:
        start, end = bt.next_call_window(cal, data.draw(instants(cal)), time_zone=zone)
        assert bt.next_call_window(cal, start, time_zone=zone) == (start, end)
        assert bt.next_call_window(cal, end - timedelta(microseconds=1), time_zone=zone) == (
            start,
            end,
        )
        assert bt.next_call_window(cal, end, time_zone=zone)[0] >= end
