"""The SLA sweep and the outbox drains are registered sweepers (decision 0050, issue 13): the
loop names none of them, they run in the order the round needs (checks before the outboxes
they feed), report through the one metrics hook, and ``--only`` selects them like any kind.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.messaging.background import DELIVER, DELIVER_CONTACTS
from app.sla.background import FIRE_DUE
from app.worker import registry as worker_registry
from app.worker.loop import CHECKS_FIRED, EMAILS_SENT
from app.worker.registry import REGISTRY, Registry, SweepContext
from app.worker.runner import run_jobs
from tests.worker.test_job_registry import RecordingMetrics

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]
LOOP = Path(__file__).resolve().parents[2] / "app" / "worker" / "loop.py"


class TestOrder:
    async def test_sweepers_run_in_their_order_not_their_registration_order__R_SLA_6(
        self, worker_sessionmaker: Sessions
    ) -> None:
        registry = Registry()
        calls: list[str] = []

        def make(kind: str, items: int) -> None:
            async def sweep(ctx: SweepContext) -> int:
                calls.append(kind)
                return items

            sweep.__name__ = kind
            order = {"late": 30, "early": 10, "middle": 20}[kind]
            counts = "counted" if kind != "middle" else None
            registry.sweeper(kind, order=order, counts_as=counts)(sweep)

        for kind, items in (("late", 5), ("early", 2), ("middle", 11)):
            make(kind, items)
        metrics = RecordingMetrics()

        done = await run_jobs(worker_sessionmaker, now=NOW, registry=registry, metrics=metrics)

        assert calls == ["early", "middle", "late"]
        assert metrics.sweeps == [("early", 2), ("middle", 11), ("late", 5)]
        assert (done.swept, done.tally("counted"), done.tally("other")) == (18, 7, 0)

    def test_the_round_runs_checks_before_the_outboxes_they_feed__R_SLA_6(self) -> None:
        worker_registry.discover()
        _, sweepers = REGISTRY.select(None)
        ours = [s for s in sweepers if s.kind in {FIRE_DUE, DELIVER, DELIVER_CONTACTS}]
        assert [(s.kind, s.counts_as) for s in ours] == [
            (FIRE_DUE, CHECKS_FIRED),
            (DELIVER, EMAILS_SENT),
            (DELIVER_CONTACTS, EMAILS_SENT),
        ]

    @pytest.mark.parametrize("kind", [FIRE_DUE, DELIVER, DELIVER_CONTACTS])
    def test_only_selects_one_domain_sweeper__R_SLA_6(self, kind: str) -> None:
        worker_registry.discover()
        jobs, sweepers = REGISTRY.select({kind})
        assert (jobs, [s.kind for s in sweepers]) == ([], [kind])


class TestWiring:
    def test_the_loop_names_no_domain__R_SLA_6(self) -> None:
        """``app/worker/loop.py`` imports no domain's sweep or outbox: what runs is registered
        (the email backend it builds for the sweepers is the one messaging import)."""
        tree = ast.parse(LOOP.read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module is not None
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        domains = {name for name in imported if name.startswith(("app.sla", "app.messaging"))}
        assert domains == {"app.messaging.backends"}

    @pytest.mark.parametrize("kind", [DELIVER, DELIVER_CONTACTS])
    async def test_an_outbox_sweeper_without_a_backend_fails_loudly__R_SLA_6(
        self, worker_sessionmaker: Sessions, kind: str
    ) -> None:
        """A round without the worker's email backend cannot deliver: an error, never a round
        that silently sends nothing."""
        worker_registry.discover()
        with pytest.raises(RuntimeError, match="email backend"):
            await run_jobs(worker_sessionmaker, now=NOW, only={kind})
