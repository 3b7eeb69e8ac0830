"""Table tests for business time (R-BT) and call windows (R-CALL).

Every expected value was worked out by hand from a wall calendar and written as a literal UTC
instant, so these tests check the code against the rule, not against itself. The weeks used:

    Nov 2026: Sun 1 (US DST ends 02:00, EDT -04:00 -> EST -05:00), Wed 11 Veterans Day,
              Thu 26 Thanksgiving (the Friday after is NOT in the US list)
    Dec 2026: Fri 25 Christmas
    Jan 2027: Fri 1 New Year's Day
    Mar 2027: Sun 14 US DST starts (EST -05:00 -> EDT -04:00)

Inputs are written with their local offset, so each row reads as "local time -> UTC result".
"""

from __future__ import annotations

import copy
import math
import pickle
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.calendar import business_time as bt

NEW_YORK = ZoneInfo("America/New_York")
US = bt.Calendar(time_zone="America/New_York", country="US")
US_CLOSED_AFTER_THANKSGIVING = bt.Calendar(
    time_zone="America/New_York", country="US", closures=frozenset({date(2026, 11, 27)})
)
US_WORKS_VETERANS_DAY = bt.Calendar(
    time_zone="America/New_York", country="US", removed_holidays=frozenset({date(2026, 11, 11)})
)


def at(text: str) -> datetime:
    """An aware instant from an ISO string with an explicit offset (or Z)."""
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() is not None, text
    return parsed


def assert_utc(result: datetime, expected: str) -> None:
    assert result.tzinfo is UTC, f"{result!r} is not in UTC"
    assert result == at(expected), f"{result.isoformat()} != {expected}"


class TestNormalise:
    """R-BT step 1: where an instant lands before any business days are added."""

    @pytest.mark.parametrize(
        ("start", "expected"),
        [
            pytest.param("2026-11-24T07:30-05:00", "2026-11-24T14:00Z", id="before-opening"),
            pytest.param("2026-11-24T09:00-05:00", "2026-11-24T14:00Z", id="exactly-opening"),
            pytest.param("2026-11-24T13:15-05:00", "2026-11-24T18:15Z", id="inside-hours-kept"),
            pytest.param(
                "2026-11-25T16:59:59.999999-05:00",
                "2026-11-25T21:59:59.999999Z",
                id="last-microsecond-before-closing-kept",
            ),
            pytest.param(
                "2026-11-25T17:00-05:00", "2026-11-27T14:00Z", id="exactly-closing-skips-holiday"
            ),
            pytest.param("2026-11-25T18:00-05:00", "2026-11-27T14:00Z", id="after-closing"),
            pytest.param("2026-11-26T11:00-05:00", "2026-11-27T14:00Z", id="on-thanksgiving"),
            pytest.param("2026-11-28T12:00-05:00", "2026-11-30T14:00Z", id="saturday"),
            pytest.param("2026-11-29T23:59-05:00", "2026-11-30T14:00Z", id="sunday-night"),
            pytest.param("2026-12-25T10:00-05:00", "2026-12-28T14:00Z", id="christmas-day"),
            pytest.param("2026-12-31T17:00-05:00", "2027-01-04T14:00Z", id="new-years-eve-close"),
            pytest.param("2027-01-01T10:00-05:00", "2027-01-04T14:00Z", id="new-years-day"),
            pytest.param(
                "2026-11-28T03:00Z", "2026-11-30T14:00Z", id="utc-saturday-is-friday-night-local"
            ),
            pytest.param("2026-11-24T13:59Z", "2026-11-24T14:00Z", id="utc-one-minute-early"),
        ],
    )
    def test_instant_normalises_to_next_business_instant__R_BT_1(
        self, start: str, expected: str
    ) -> None:
        assert_utc(bt.normalize(US, at(start)), expected)

    def test_friday_after_closing_normalises_to_monday_opening__R_BT_1(self) -> None:
        assert_utc(bt.normalize(US, at("2026-11-20T17:30-05:00")), "2026-11-23T14:00Z")

    @pytest.mark.parametrize("fold", [0, 1], ids=["first-01:30-EDT", "second-01:30-EST"])
    def test_ambiguous_hour_when_dst_ends_normalises_to_monday__R_BT_1(self, fold: int) -> None:
        start = datetime(2026, 11, 1, 1, 30, fold=fold, tzinfo=NEW_YORK)
        assert_utc(bt.normalize(US, start), "2026-11-02T14:00Z")

    def test_zero_business_days_is_the_normalised_instant__R_BT_1(self) -> None:
        start = at("2026-11-25T18:00-05:00")
        assert bt.add_business_days(US, start, 0) == bt.normalize(US, start)


class TestAddBusinessDays:
    """R-BT steps 2-3: N business days later, same local wall time, in UTC."""

    @pytest.mark.parametrize(
        ("start", "n", "expected"),
        [
            pytest.param("2026-11-25T10:00-05:00", 1, "2026-11-27T15:00Z", id="thanksgiving"),
            pytest.param("2026-11-25T18:00-05:00", 1, "2026-11-30T14:00Z", id="after-close"),
            pytest.param(
                "2026-11-25T16:59:59.999999-05:00",
                1,
                "2026-11-27T21:59:59.999999Z",
                id="just-before-close-keeps-wall-time",
            ),
            pytest.param("2026-11-24T07:30-05:00", 2, "2026-11-27T14:00Z", id="before-opening"),
            pytest.param("2026-11-28T12:00-05:00", 1, "2026-12-01T14:00Z", id="from-saturday"),
            pytest.param("2026-11-26T11:00-05:00", 3, "2026-12-02T14:00Z", id="from-holiday"),
            pytest.param("2026-12-24T16:59-05:00", 1, "2026-12-28T21:59Z", id="christmas-eve"),
            pytest.param("2026-12-21T10:00-05:00", 5, "2026-12-29T15:00Z", id="christmas-week"),
            pytest.param("2026-12-30T11:00-05:00", 2, "2027-01-04T16:00Z", id="new-year"),
            pytest.param("2026-11-10T10:00-05:00", 1, "2026-11-12T15:00Z", id="veterans-day"),
            pytest.param("2026-11-02T10:00-05:00", 20, "2026-12-02T15:00Z", id="twenty-days"),
            pytest.param("2026-11-24T15:00Z", 1, "2026-11-25T15:00Z", id="given-in-utc"),
            pytest.param(
                "2026-11-24T16:00+01:00", 1, "2026-11-25T15:00Z", id="given-in-another-offset"
            ),
        ],
    )
    def test_n_business_days_later_keeps_local_wall_time__R_BT_2(
        self, start: str, n: int, expected: str
    ) -> None:
        assert_utc(bt.add_business_days(US, at(start), n), expected)

    def test_five_business_days_is_a_week_when_there_is_no_holiday__R_BT_2(self) -> None:
        assert_utc(bt.add_business_days(US, at("2026-12-07T11:00-05:00"), 5), "2026-12-14T16:00Z")


class TestDaylightSaving:
    """R-BT step 3: wall time is kept across a DST change; the UTC offset follows the date."""

    @pytest.mark.parametrize(
        ("start", "n", "expected"),
        [
            pytest.param("2026-10-30T10:00-04:00", 1, "2026-11-02T15:00Z", id="dst-ends-EDT-EST"),
            pytest.param("2026-10-31T10:00-04:00", 0, "2026-11-02T14:00Z", id="saturday-EDT"),
            pytest.param("2027-03-12T10:00-05:00", 1, "2027-03-15T14:00Z", id="dst-starts"),
            pytest.param("2027-03-13T12:00-05:00", 0, "2027-03-15T13:00Z", id="saturday-EST"),
        ],
    )
    def test_wall_time_is_kept_across_dst_change__R_BT_3(
        self, start: str, n: int, expected: str
    ) -> None:
        assert_utc(bt.add_business_days(US, at(start), n), expected)

    def test_zoneinfo_input_converts_the_same_as_offset_input__R_BT_3(self) -> None:
        start = datetime(2026, 10, 30, 10, tzinfo=NEW_YORK)
        assert_utc(bt.add_business_days(US, start, 1), "2026-11-02T15:00Z")


class TestClosuresAndRemovedHolidays:
    """R-BT: the agency's closures are added to the country list, removed dates are worked."""

    @pytest.mark.parametrize(
        ("start", "n", "expected"),
        [
            pytest.param("2026-11-25T10:00-05:00", 1, "2026-11-30T15:00Z", id="closed-friday"),
            pytest.param("2026-11-25T17:00-05:00", 0, "2026-11-30T14:00Z", id="close-to-monday"),
            pytest.param("2026-11-27T10:00-05:00", 0, "2026-11-30T14:00Z", id="on-closure"),
        ],
    )
    def test_agency_closure_is_not_a_business_day__R_BT(
        self, start: str, n: int, expected: str
    ) -> None:
        assert_utc(bt.add_business_days(US_CLOSED_AFTER_THANKSGIVING, at(start), n), expected)

    @pytest.mark.parametrize(
        ("start", "n", "expected"),
        [
            pytest.param("2026-11-10T10:00-05:00", 1, "2026-11-11T15:00Z", id="day-before"),
            pytest.param("2026-11-11T08:00-05:00", 0, "2026-11-11T14:00Z", id="early-that-day"),
        ],
    )
    def test_removed_holiday_is_a_business_day__R_BT(
        self, start: str, n: int, expected: str
    ) -> None:
        assert_utc(bt.add_business_days(US_WORKS_VETERANS_DAY, at(start), n), expected)

    def test_closure_wins_over_removal_of_the_same_date__R_BT(self) -> None:
        cal = bt.Calendar(
            time_zone="America/New_York",
            country="US",
            closures=frozenset({date(2026, 11, 11)}),
            removed_holidays=frozenset({date(2026, 11, 11)}),
        )
        assert not bt.is_business_day(cal, date(2026, 11, 11))


class TestIsBusinessDay:
    """R-BT: working weekdays minus holidays and closures."""

    @pytest.mark.parametrize(
        ("cal", "day", "expected"),
        [
            pytest.param(US, date(2026, 11, 25), True, id="wednesday"),
            pytest.param(US, date(2026, 11, 26), False, id="thanksgiving"),
            pytest.param(US, date(2026, 11, 27), True, id="friday-after-is-in-no-us-list"),
            pytest.param(US, date(2026, 11, 28), False, id="saturday"),
            pytest.param(US, date(2026, 12, 25), False, id="christmas"),
            pytest.param(US, date(2027, 1, 1), False, id="new-year"),
            pytest.param(US, date(2026, 7, 3), False, id="independence-day-observed"),
            pytest.param(US_CLOSED_AFTER_THANKSGIVING, date(2026, 11, 27), False, id="closure"),
            pytest.param(US_WORKS_VETERANS_DAY, date(2026, 11, 11), True, id="removed"),
        ],
    )
    def test_business_day__R_BT(self, cal: bt.Calendar, day: date, expected: bool) -> None:
        assert bt.is_business_day(cal, day) is expected

    def test_sunday_to_thursday_week__R_BT(self) -> None:
        cal = bt.Calendar(time_zone="Asia/Jerusalem", weekdays=frozenset({6, 0, 1, 2, 3}))
        assert bt.is_business_day(cal, date(2026, 11, 22))  # Sunday
        assert not bt.is_business_day(cal, date(2026, 11, 20))  # Friday

    def test_a_datetime_is_refused_because_its_date_depends_on_the_zone__R_BT(self) -> None:
        with pytest.raises(TypeError):
            bt.is_business_day(US, at("2026-11-25T10:00Z"))


class TestHolidaysFor:
    """R-BT: one year's closed dates: country list - removed + closures."""

    def test_country_list_with_closures_and_removals__R_BT(self) -> None:
        cal = bt.Calendar(
            time_zone="America/New_York",
            country="US",
            closures=frozenset({date(2026, 11, 27), date(2027, 11, 26)}),
            removed_holidays=frozenset({date(2026, 11, 11)}),
        )
        closed = bt.holidays_for(cal, 2026)
        assert {date(2026, 11, 26), date(2026, 12, 25), date(2026, 11, 27)} <= closed
        assert date(2026, 11, 11) not in closed
        assert date(2027, 11, 26) not in closed  # another year's closure
        assert all(d.year == 2026 for d in closed)

    def test_subdivision_adds_its_holidays__R_BT(self) -> None:
        california = bt.Calendar(time_zone="America/Los_Angeles", country="US", subdivision="CA")
        # Cesar Chavez Day, 31 March, is a California holiday only.
        assert date(2026, 3, 31) in bt.holidays_for(california, 2026)
        assert date(2026, 3, 31) not in bt.holidays_for(US, 2026)

    def test_no_country_means_no_public_holidays__R_BT(self) -> None:
        plain = bt.Calendar(time_zone="UTC")
        assert bt.holidays_for(plain, 2026) == frozenset()


class TestAddBusinessHours:
    """R-BT: N business hours after T, carried into the next business days."""

    @pytest.mark.parametrize(
        ("start", "hours", "expected"),
        [
            pytest.param("2026-11-25T16:00-05:00", 1, "2026-11-25T22:00Z", id="ends-at-closing"),
            pytest.param("2026-11-25T16:00-05:00", 2, "2026-11-27T15:00Z", id="over-holiday"),
            pytest.param("2026-11-27T15:30-05:00", 4, "2026-11-30T16:30Z", id="over-weekend"),
            pytest.param("2026-11-24T06:00-05:00", 2, "2026-11-24T16:00Z", id="before-opening"),
            pytest.param("2026-11-24T20:00-05:00", 2, "2026-11-25T16:00Z", id="after-closing"),
            pytest.param("2026-11-24T09:00-05:00", 8, "2026-11-24T22:00Z", id="one-full-day"),
            pytest.param("2026-11-24T09:00-05:00", 16, "2026-11-25T22:00Z", id="two-full-days"),
            pytest.param("2026-11-24T09:00-05:00", 17, "2026-11-27T15:00Z", id="two-days-and-1"),
            pytest.param("2026-11-24T10:00-05:00", 40, "2026-12-02T15:00Z", id="five-days"),
            pytest.param(
                "2026-12-24T16:00-05:00", timedelta(minutes=90), "2026-12-28T14:30Z", id="xmas"
            ),
            pytest.param("2026-12-31T16:45-05:00", 0.5, "2027-01-04T14:15Z", id="new-year"),
            pytest.param("2026-10-30T16:00-04:00", 2, "2026-11-02T15:00Z", id="dst-ends"),
            pytest.param("2027-03-12T16:30-05:00", 1, "2027-03-15T13:30Z", id="dst-starts"),
            pytest.param("2026-11-28T12:00-05:00", 2, "2026-11-30T16:00Z", id="from-saturday"),
            pytest.param("2026-11-25T17:00-05:00", 0, "2026-11-27T14:00Z", id="zero-normalises"),
            pytest.param(
                "2026-11-25T16:59:59-05:00",
                timedelta(seconds=1),
                "2026-11-25T22:00Z",
                id="last-second",
            ),
        ],
    )
    def test_business_hours_carry_into_next_business_day__R_BT(
        self, start: str, hours: float | timedelta, expected: str
    ) -> None:
        assert_utc(bt.add_business_hours(US, at(start), hours), expected)

    def test_note_review_due_two_business_hours_after_arrival__R_TY_4(self) -> None:
        # A note arriving at 16:20 on Christmas Eve: 40 minutes that day, then Christmas and the
        # weekend, so review is due 10:20 on Monday 28 and breached (4 hours) at 12:20.
        arrived = at("2026-12-24T16:20-05:00")
        assert_utc(bt.add_business_hours(US, arrived, 2), "2026-12-28T15:20Z")
        assert_utc(bt.add_business_hours(US, arrived, 4), "2026-12-28T17:20Z")

    def test_custom_business_hours__R_BT(self) -> None:
        cal = bt.Calendar(
            time_zone="Europe/London",
            country="GB",
            subdivision="ENG",
            opens=time(8, 30),
            closes=time(12, 30),
        )
        # Thu 2026-12-24 12:00 GMT + 1h: 30 min left that day; Fri 25 (Christmas) and Mon 28
        # (Boxing Day observed, the 26th is a Saturday) are closed, so 30 min into Tue 29: 09:00.
        assert_utc(bt.add_business_hours(cal, at("2026-12-24T12:00Z"), 1), "2026-12-29T09:00Z")


class TestCallWindows:
    """R-CALL: contacts are called in their local 10:00-11:00 or 15:00-16:00 on business days."""

    @pytest.mark.parametrize(
        ("start", "expected_start", "expected_end"),
        [
            pytest.param(
                "2026-11-24T09:00-05:00", "2026-11-24T15:00Z", "2026-11-24T16:00Z", id="early"
            ),
            pytest.param(
                "2026-11-24T10:00-05:00", "2026-11-24T15:00Z", "2026-11-24T16:00Z", id="at-start"
            ),
            pytest.param(
                "2026-11-24T10:30-05:00", "2026-11-24T15:00Z", "2026-11-24T16:00Z", id="inside"
            ),
            pytest.param(
                "2026-11-24T11:00-05:00", "2026-11-24T20:00Z", "2026-11-24T21:00Z", id="at-end"
            ),
            pytest.param(
                "2026-11-24T12:30-05:00", "2026-11-24T20:00Z", "2026-11-24T21:00Z", id="lunch"
            ),
            pytest.param(
                "2026-11-24T16:00-05:00", "2026-11-25T15:00Z", "2026-11-25T16:00Z", id="late"
            ),
            pytest.param(
                "2026-11-25T16:00-05:00",
                "2026-11-27T15:00Z",
                "2026-11-27T16:00Z",
                id="thanksgiving",
            ),
            pytest.param(
                "2026-11-28T10:30-05:00", "2026-11-30T15:00Z", "2026-11-30T16:00Z", id="saturday"
            ),
            pytest.param(
                "2026-10-30T16:00-04:00", "2026-11-02T15:00Z", "2026-11-02T16:00Z", id="dst-ends"
            ),
            pytest.param(
                "2026-12-24T15:30-05:00", "2026-12-24T20:00Z", "2026-12-24T21:00Z", id="xmas-eve"
            ),
            pytest.param(
                "2026-12-31T16:00-05:00", "2027-01-04T15:00Z", "2027-01-04T16:00Z", id="new-year"
            ),
        ],
    )
    def test_next_window_in_calendar_zone__R_CALL(
        self, start: str, expected_start: str, expected_end: str
    ) -> None:
        window_start, window_end = bt.next_call_window(US, at(start))
        assert_utc(window_start, expected_start)
        assert_utc(window_end, expected_end)

    @pytest.mark.parametrize(
        ("zone", "start", "expected_start", "expected_end"),
        [
            # London is on GMT (+00:00) in late November, on BST (+01:00) in October.
            pytest.param(
                "Europe/London",
                "2026-11-24T12:00Z",
                "2026-11-24T15:00Z",
                "2026-11-24T16:00Z",
                id="london-afternoon",
            ),
            pytest.param(
                "Europe/London",
                "2026-11-25T17:00Z",
                "2026-11-27T10:00Z",
                "2026-11-27T11:00Z",
                id="london-skips-us-thanksgiving",
            ),
            pytest.param(
                "Europe/London",
                "2026-10-20T08:00Z",
                "2026-10-20T09:00Z",
                "2026-10-20T10:00Z",
                id="london-bst",
            ),
            # Fri 21:00 in New York is already Saturday 02:00 in London: the contact's date counts.
            pytest.param(
                "Europe/London",
                "2026-11-28T02:00Z",
                "2026-11-30T10:00Z",
                "2026-11-30T11:00Z",
                id="london-saturday",
            ),
            # Wed 15:00 in New York is Thu 05:00 in Tokyo, Thanksgiving on the client's calendar.
            pytest.param(
                "Asia/Tokyo",
                "2026-11-25T20:00Z",
                "2026-11-27T01:00Z",
                "2026-11-27T02:00Z",
                id="tokyo",
            ),
        ],
    )
    def test_next_window_in_contact_zone_on_client_business_days__R_CALL(
        self, zone: str, start: str, expected_start: str, expected_end: str
    ) -> None:
        window_start, window_end = bt.next_call_window(US, at(start), time_zone=zone)
        assert_utc(window_start, expected_start)
        assert_utc(window_end, expected_end)

    def test_window_is_the_next_one_for_a_chase_task_due_instant__R_CALL(self) -> None:
        # A check due Wed 2026-12-02 10:00 EST (R-SLA) carries the window that is open then.
        due = bt.add_business_days(US, at("2026-11-24T10:00-05:00"), 5)
        assert bt.next_call_window(US, due) == (at("2026-12-02T15:00Z"), at("2026-12-02T16:00Z"))


class TestVectorised:
    """add_business_days_many is the single call, applied to many starts."""

    def test_table_rows_match_single_calls__R_BT(self) -> None:
        starts = [
            at(s)
            for s in (
                "2026-11-25T10:00-05:00",
                "2026-11-25T17:00-05:00",
                "2026-11-01T01:30-05:00",  # the repeated hour when DST ends
                "2026-11-01T05:30Z",
                "2027-03-14T02:30-05:00",  # the skipped hour when DST starts, as UTC 07:30
                "2026-12-31T23:59:59.999999-05:00",
                "2026-10-30T10:00-04:00",
            )
        ]
        for n in (0, 1, 7):
            assert bt.add_business_days_many(US, starts, n) == [
                bt.add_business_days(US, s, n) for s in starts
            ]
        assert_utc(bt.add_business_days_many(US, starts, 1)[-1], "2026-11-02T15:00Z")

    def test_empty_input_gives_empty_output__R_BT(self) -> None:
        assert bt.add_business_days_many(US, [], 3) == []


class TestValidation:
    """Bad input fails loudly and at once, with a ValueError the API turns into a 4xx (R-IN)."""

    NAIVE = datetime(2026, 11, 25, 10)  # noqa: DTZ001 - a naive datetime is what is tested

    def test_naive_instant_is_refused__R_BT(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            bt.normalize(US, self.NAIVE)
        with pytest.raises(ValueError, match="timezone-aware"):
            bt.add_business_days(US, self.NAIVE, 1)
        with pytest.raises(ValueError, match="timezone-aware"):
            bt.add_business_hours(US, self.NAIVE, 1)
        with pytest.raises(ValueError, match="timezone-aware"):
            bt.next_call_window(US, self.NAIVE)
        with pytest.raises(ValueError, match="timezone-aware"):
            bt.add_business_days_many(US, [at("2026-11-25T10:00Z"), self.NAIVE], 1)

    @pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd", "america/new_york"])
    def test_unknown_time_zone_is_refused__R_BT(self, zone: str) -> None:
        with pytest.raises(ValueError, match="unknown time zone"):
            bt.Calendar(time_zone=zone)
        with pytest.raises(ValueError, match="unknown time zone"):
            bt.next_call_window(US, at("2026-11-25T10:00Z"), time_zone=zone)

    @pytest.mark.parametrize(
        ("country", "subdivision"),
        [("XX", None), ("US", "ZZ"), ("Narnia", None)],
    )
    def test_unknown_country_or_subdivision_is_refused__R_BT(
        self, country: str, subdivision: str | None
    ) -> None:
        with pytest.raises(ValueError, match="unknown holiday country"):
            bt.Calendar(time_zone="UTC", country=country, subdivision=subdivision)

    def test_subdivision_without_country_is_refused__R_BT(self) -> None:
        with pytest.raises(ValueError, match="needs a country"):
            bt.Calendar(time_zone="UTC", subdivision="CA")

    @pytest.mark.parametrize(
        ("opens", "closes"),
        [(time(17), time(9)), (time(9), time(9)), (time(9, tzinfo=UTC), time(17))],
    )
    def test_bad_business_hours_are_refused__R_BT(self, opens: time, closes: time) -> None:
        with pytest.raises(ValueError):
            bt.Calendar(time_zone="UTC", opens=opens, closes=closes)

    @pytest.mark.parametrize("weekdays", [frozenset(), frozenset({7}), frozenset({-1, 2})])
    def test_bad_weekdays_are_refused__R_BT(self, weekdays: frozenset[int]) -> None:
        with pytest.raises(ValueError, match="weekday"):
            bt.Calendar(time_zone="UTC", weekdays=weekdays)

    def test_datetime_as_closure_is_refused__R_BT(self) -> None:
        with pytest.raises(ValueError, match="closures must hold dates"):
            bt.Calendar(time_zone="UTC", closures=frozenset({at("2026-11-27T00:00Z")}))

    def test_negative_amounts_are_refused__R_BT(self) -> None:
        start = at("2026-11-25T10:00Z")
        with pytest.raises(ValueError):
            bt.add_business_days(US, start, -1)
        with pytest.raises(ValueError):
            bt.add_business_days_many(US, [start], -1)
        with pytest.raises(ValueError):
            bt.add_business_hours(US, start, -0.5)
        with pytest.raises(ValueError):
            bt.add_business_hours(US, start, timedelta(minutes=-1))

    @pytest.mark.parametrize("hours", [math.nan, math.inf])
    def test_non_finite_hours_are_refused__R_BT(self, hours: float) -> None:
        with pytest.raises(ValueError):
            bt.add_business_hours(US, at("2026-11-25T10:00Z"), hours)

    def test_bool_hours_are_refused__R_BT(self) -> None:
        with pytest.raises(TypeError):
            bt.add_business_hours(US, at("2026-11-25T10:00Z"), True)

    def test_years_outside_the_supported_range_are_refused__R_IN(self) -> None:
        with pytest.raises(ValueError, match="supported"):
            bt.normalize(US, at("1850-06-01T12:00Z"))
        with pytest.raises(ValueError, match="supported"):
            bt.add_business_days(US, at("2199-12-30T12:00Z"), 10)
        with pytest.raises(ValueError):
            bt.add_business_days(US, at("2026-11-25T10:00Z"), 10**9)
        with pytest.raises(ValueError):
            bt.add_business_hours(US, at("2026-11-25T10:00Z"), 10**9)


class TestCalendarValue:
    """A calendar is a value: hashable, comparable, usable as a cache key."""

    def test_equal_calendars_are_equal_and_hash_alike__R_BT(self) -> None:
        a = bt.Calendar(time_zone="America/New_York", country="US")
        b = bt.Calendar(time_zone="America/New_York", country="US", weekdays=frozenset(range(5)))
        assert a == b
        assert hash(a) == hash(b)
        assert {a: 1}[b] == 1
        assert a != US_CLOSED_AFTER_THANKSGIVING

    def test_sets_are_frozen_so_the_calendar_stays_hashable__R_BT(self) -> None:
        cal = bt.Calendar(
            time_zone="UTC",
            weekdays={0, 1, 2},  # type: ignore[arg-type]  # runtime callers may pass a set
            closures=[date(2026, 1, 2)],  # type: ignore[arg-type]
        )
        assert cal.weekdays == frozenset({0, 1, 2})
        assert isinstance(cal.closures, frozenset)
        hash(cal)

    def test_pickles_and_copies_by_value__R_BT(self) -> None:
        # A worker may receive a calendar pickled, and settings code may deep-copy one.
        round_trip = pickle.loads(pickle.dumps(US))  # noqa: S301 - our own bytes
        for twin in (round_trip, copy.deepcopy(US), copy.copy(US)):
            assert twin == US
            assert_utc(
                bt.add_business_days(twin, at("2026-11-25T10:00-05:00"), 1), "2026-11-27T15:00Z"
            )

    def test_calendar_is_frozen__R_BT(self) -> None:
        with pytest.raises(AttributeError):
            US.time_zone = "UTC"  # type: ignore[misc]
