"""The registry and the retry policy of the generic queue (decision 0050): kinds declared once,
``--only`` runs a subset and refuses a kind nobody registered, sweepers are called each round,
metrics pass through one hook, and the backoff grows with jitter.
"""

from __future__ import annotations

import os
import random
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.worker import queue
from app.worker.queue import RetryAfter, RetryPolicy
from app.worker.registry import JobOutcome, Registry, SweepContext, UnknownKind
from app.worker.runner import run_jobs
from tests.support.workers import CANDOR

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


class RecordingMetrics:
    """A metrics hook that keeps what it was told, as a Prometheus adapter would count it."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, JobOutcome]] = []
        self.sweeps: list[tuple[str, int]] = []

    def job_finished(self, kind: str, outcome: JobOutcome, seconds: float) -> None:
        assert seconds >= 0
        self.jobs.append((kind, outcome))

    def sweeper_finished(self, kind: str, items: int, seconds: float) -> None:
        self.sweeps.append((kind, items))


def small_registry() -> tuple[Registry, list[SweepContext], list[int]]:
    registry = Registry()
    swept: list[SweepContext] = []
    ran: list[int] = []

    @registry.job("a.ok")
    async def ok(session: AsyncSession, *, now: datetime, n: int) -> None:
        ran.append(n)

    @registry.job("a.fails", retry=RetryPolicy(max_attempts=1))
    async def fails(session: AsyncSession, *, now: datetime, n: int) -> None:
        raise RuntimeError("always")

    @registry.sweeper("a.sweep")
    async def sweep(ctx: SweepContext) -> int:
        swept.append(ctx)
        return 7

    return registry, swept, ran


class TestRegistry:
    def test_a_kind_is_registered_once__R_SLA_6(self) -> None:
        registry, _, _ = small_registry()

        async def other(ctx: SweepContext) -> int:
            return 0

        with pytest.raises(ValueError, match="already registered"):
            registry.sweeper("a.ok")(other)

    def test_only_a_kind_nobody_registered_is_refused_naming_the_known_ones__R_SLA_6(
        self,
    ) -> None:
        registry, _, _ = small_registry()
        with pytest.raises(UnknownKind) as refused:
            registry.select({"a.ok", "webhooks.delivr"})
        assert "webhooks.delivr" in str(refused.value)
        assert "a.fails, a.ok, a.sweep" in str(refused.value)

    @pytest.mark.parametrize(
        ("only", "jobs", "sweepers"),
        [
            (None, {"a.ok", "a.fails"}, {"a.sweep"}),
            ({"a.ok"}, {"a.ok"}, set()),
            ({"a.sweep"}, set(), {"a.sweep"}),
        ],
    )
    def test_only_selects_a_subset__R_SLA_6(
        self, only: set[str] | None, jobs: set[str], sweepers: set[str]
    ) -> None:
        registry, _, _ = small_registry()
        selected_jobs, selected_sweepers = registry.select(only)
        assert {s.kind for s in selected_jobs} == jobs
        assert {s.kind for s in selected_sweepers} == sweepers


class TestRound:
    async def test_round_runs_jobs_and_sweepers_and_reports_each_kind_to_metrics__R_SLA_6(
        self, worker_sessionmaker: Sessions
    ) -> None:
        registry, swept, ran = small_registry()
        async with worker_sessionmaker() as session:
            await queue.enqueue(session, "a.ok", run_at=NOW, n=1)
            await queue.enqueue(session, "a.fails", run_at=NOW, n=2)
            await queue.enqueue(session, "a.ok", run_at=NOW + timedelta(hours=1), n=3)
            await session.commit()
        metrics = RecordingMetrics()

        done = await run_jobs(worker_sessionmaker, now=NOW, registry=registry, metrics=metrics)

        assert ran == [1]  # n=3 is not due yet
        assert sorted(metrics.jobs) == [("a.fails", JobOutcome.dead), ("a.ok", JobOutcome.done)]
        assert metrics.sweeps == [("a.sweep", 7)]
        assert [(c.now, c.sessionmaker) for c in swept] == [(NOW, worker_sessionmaker)]
        assert (done.count(JobOutcome.done), done.count(JobOutcome.dead), done.swept) == (1, 1, 7)

    async def test_only_leaves_the_other_kinds_alone__R_SLA_6(
        self, worker_sessionmaker: Sessions
    ) -> None:
        registry, swept, ran = small_registry()
        async with worker_sessionmaker() as session:
            await queue.enqueue(session, "a.ok", run_at=NOW, n=1)
            await session.commit()
        done = await run_jobs(worker_sessionmaker, now=NOW, registry=registry, only={"a.sweep"})
        assert (ran, done.swept, len(swept)) == ([], 7, 1)
        done = await run_jobs(worker_sessionmaker, now=NOW, registry=registry, only={"a.ok"})
        assert (ran, done.count(JobOutcome.done), len(swept)) == ([1], 1, 1)


class TestBackoff:
    POLICY = RetryPolicy(
        max_attempts=10,
        base=timedelta(seconds=10),
        factor=2.0,
        max_delay=timedelta(minutes=5),
        jitter=0.5,
    )

    def test_delay_grows_per_attempt_within_its_jittered_band_up_to_the_cap__R_AV(self) -> None:
        rng = random.Random(13)
        medians = []
        for attempt in range(1, 9):
            ceiling = min(timedelta(seconds=10 * 2 ** (attempt - 1)), timedelta(minutes=5))
            delays = [self.POLICY.delay(attempt, rng=rng) for _ in range(200)]
            assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
            assert max(delays) - min(delays) > ceiling / 4  # jittered: spread over the band
            medians.append(sorted(delays)[len(delays) // 2])
        growing = medians[:5]  # 10, 20, 40, 80, 160 s; then the 300 s cap
        assert growing == sorted(growing) and len(set(growing)) == 5
        assert all(timedelta(minutes=2.5) <= m <= timedelta(minutes=5) for m in medians[5:])

    def test_retry_after_is_the_delay_whatever_the_attempt__R_AV(self) -> None:
        rng = random.Random(1)
        for attempt, wait in [(1, timedelta(seconds=3)), (6, timedelta(hours=2))]:
            assert self.POLICY.delay(attempt, rng=rng, retry_after=wait) == wait

    @pytest.mark.parametrize(
        "bad",
        [
            {"max_attempts": 0},
            {"jitter": 1.5},
            {"factor": 0.5},
            {"base": timedelta(0)},
            {"max_delay": timedelta(seconds=1)},
        ],
    )
    def test_a_policy_that_could_not_back_off_is_refused__R_AV(
        self, bad: dict[str, object]
    ) -> None:
        with pytest.raises(ValueError):
            RetryPolicy(**bad)  # type: ignore[arg-type]

    def test_negative_retry_after_is_refused__R_AV(self) -> None:
        with pytest.raises(ValueError):
            RetryAfter(timedelta(seconds=-1))


class TestOnlyOnTheCommandLine:
    def test_worker_refuses_an_only_kind_nobody_registered__R_IN(self, tmp_path: Path) -> None:
        """A deployment's typo fails at start, naming the kind, instead of idling for ever."""
        url = f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"
        done = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
            [str(CANDOR), "worker", "--once", "--only", "webhooks.delivr"],
            env={**os.environ, "CANDOR_DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 2, done
        assert "webhooks.delivr" in done.stderr
        assert not (tmp_path / "unused.db").exists()  # refused before touching the database
