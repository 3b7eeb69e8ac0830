"""Benchmark: business-day arithmetic (R-BT), ours against numpy.busday_offset.

Run: ``python bench/business_time.py`` (from the repository root). Not a test: it prints figures.

Three timings over the same 100,000 random start instants (2026-2028, US calendar, New York):

1. ``add_business_days`` called once per start (the SLA engine's path);
2. ``add_business_days_many`` over the whole list (the vectorised path);
3. ``numpy.busday_offset`` on the starts' local dates, with the same holidays and weekmask and
   ``roll='forward'``.

numpy's figure is a floor, not a like-for-like rival: it works on dates only, so it does not
normalise times of day, convert zones, or build a datetime per result, which is most of our cost.
Each timing is the best of several repeats (the least disturbed by the rest of the machine).
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.calendar import business_time as bt

STARTS = 100_000
REPEATS = 5
N = 5  # business days: the first check's offset (R-SLA 1)
TARGET_US = 5.0


def best_of(run: Callable[[], object], repeats: int = REPEATS) -> float:
    """Best wall time in seconds over `repeats` runs."""
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    cal = bt.Calendar(time_zone="America/New_York", country="US")
    zone = ZoneInfo(cal.time_zone)
    rng = random.Random(20261126)
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    span_us = 3 * 365 * 24 * 3_600 * 1_000_000
    starts = [origin + timedelta(microseconds=rng.randrange(span_us)) for _ in range(STARTS)]

    # numpy's inputs: the same starts as local dates, the same closed dates and weekmask.
    local_days = np.array([t.astimezone(zone).date() for t in starts], dtype="datetime64[D]")
    closed = sorted(d for year in range(2025, 2031) for d in bt.holidays_for(cal, year))
    busdaycal = np.busdaycalendar(
        weekmask=[1 if day in cal.weekdays else 0 for day in range(7)],
        holidays=np.array(closed, dtype="datetime64[D]"),
    )

    # Warm up: build the day table, its numpy form, and the holiday caches outside the timings.
    single = [bt.add_business_days(cal, t, N) for t in starts]
    many = bt.add_business_days_many(cal, starts, N)
    assert many == single, "the vectorised path must equal the single calls"
    days = np.busday_offset(local_days, N, roll="forward", busdaycal=busdaycal)
    # Cross-check on the starts inside business hours, where only the date moves: same dates.
    inside = [
        i
        for i, t in enumerate(starts)
        if bt.normalize(cal, t) == t  # already a business instant
    ]
    ours = np.array([single[i].astimezone(zone).date() for i in inside], dtype="datetime64[D]")
    assert (ours == days[inside]).all(), "dates disagree with numpy.busday_offset"

    def run_single() -> None:
        add = bt.add_business_days
        for t in starts:
            add(cal, t, N)

    t_single = best_of(run_single)
    t_many = best_of(lambda: bt.add_business_days_many(cal, starts, N))
    t_numpy = best_of(lambda: np.busday_offset(local_days, N, roll="forward", busdaycal=busdaycal))

    print(
        f"business_time bench: {STARTS:,} starts, n={N}, best of {REPEATS}, "
        f"Python {sys.version.split()[0]}, numpy {np.__version__}"
    )
    print(
        f"(cross-checked: vectorised == single calls; the {len(inside):,} starts inside "
        "business hours land on numpy's dates)"
    )
    print()
    print(f"{'path':<38}{'calls/s':>14}{'µs/call':>10}{'x numpy':>10}")
    for label, seconds in [
        ("add_business_days (single calls)", t_single),
        ("add_business_days_many (vectorised)", t_many),
        ("numpy.busday_offset (dates only)", t_numpy),
    ]:
        per_call_us = seconds / STARTS * 1e6
        print(
            f"{label:<38}{STARTS / seconds:>14,.0f}{per_call_us:>10.3f}{seconds / t_numpy:>10.1f}"
        )
    print()
    single_us = t_single / STARTS * 1e6
    verdict = "UNDER" if single_us < TARGET_US else "NOT under"
    print(
        f"Single add_business_days calls take {single_us:.2f} µs each: {verdict} the "
        f"{TARGET_US:g} µs target. The vectorised path is {t_single / t_many:.1f}x faster "
        "than single calls."
    )


if __name__ == "__main__":
    main()
