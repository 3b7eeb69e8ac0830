"""The demo agency (``candor demo``): what it promises a first-time user, checked in the database.

The demo is the first thing anyone sees of Candor, so it must obey the same rules as real data:
records written through the services, stage histories that follow the transition table (R-ST),
contacts that exercise every contact policy (R-CP), and keys that work against the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import ColumnElement, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from app.auth.models import User
from app.candidates.models import Candidate
from app.clients.models import Client, Contact, ContactPolicy, ContactRole
from app.core.clock import utcnow
from app.core.settings import Settings
from app.demo import DemoSummary, populate
from app.events.models import Event
from app.feedback.models import Feedback, SummaryStatus
from app.interviews.models import Interview, InterviewInterviewer, InterviewStatus
from app.jobs.models import Job
from app.sla.models import SlaCheck
from app.submissions.models import StageMove, Submission
from app.submissions.states import Stage, can_move
from tests.support.serving import CANDOR, ROOT, free_port


@dataclass
class Demo:
    summary: DemoSummary
    now: datetime


@pytest.fixture
async def demo(session: AsyncSession, settings: Settings) -> Demo:
    now = utcnow()
    summary = await populate(session, secret=settings.secret_key.get_secret_value(), now=now)
    return Demo(summary=summary, now=now)


async def _count(session: AsyncSession, model: type[SQLModel], *where: ColumnElement[bool]) -> int:
    stmt = select(func.count()).select_from(model).where(*where)
    return int(await session.scalar(stmt) or 0)


async def _submissions(session: AsyncSession) -> list[Submission]:
    return list((await session.execute(select(Submission))).scalars())


class TestSummary:
    async def test_counts_in_the_summary_match_the_database(
        self, demo: Demo, session: AsyncSession
    ) -> None:
        s = demo.summary
        assert s.recruiters == await _count(session, User, col(User.role) == "recruiter")
        assert s.clients == await _count(session, Client)
        assert s.contacts == await _count(session, Contact)
        assert s.jobs == await _count(session, Job)
        assert s.candidates == await _count(session, Candidate)
        assert s.submissions == await _count(session, Submission)
        assert s.interviews == await _count(session, Interview)
        assert s.feedback == await _count(session, Feedback)
        assert (s.recruiters, s.clients, s.jobs) == (3, 4, 6)
        assert s.candidates >= 10 and s.submissions >= 12

    async def test_summary_reads_as_one_line_and_never_shows_a_key(self, demo: Demo) -> None:
        s = demo.summary
        text = str(s)
        assert "\n" not in text
        assert f"{s.recruiters} recruiters" in text and f"{s.submissions} submissions" in text
        keys = [s.admin_key, s.integration_key, *s.recruiter_keys.values()]
        assert len(set(keys)) == len(keys) == 5
        for key in keys:
            assert key not in text and key not in repr(s)

    async def test_every_record_was_written_through_a_service_with_its_event(
        self, demo: Demo, session: AsyncSession
    ) -> None:
        created = {
            "candidate.created": demo.summary.candidates,
            "client.created": demo.summary.clients,
            "contact.created": demo.summary.contacts,
            "job.created": demo.summary.jobs,
            "submission.created": demo.summary.submissions,
            "interview.created": demo.summary.interviews,
            "feedback.created": demo.summary.feedback,
        }
        for action, expected in created.items():
            assert await _count(session, Event, col(Event.action) == action) == expected, action
        moves = await _count(session, StageMove, col(StageMove.from_stage).is_not(None))
        changed = col(Event.action) == "submission.stage_changed"
        assert await _count(session, Event, changed) == moves


class TestDirectory:
    async def test_contacts_cover_every_role_and_every_contact_policy__R_CP_2(
        self, demo: Demo, session: AsyncSession
    ) -> None:
        roles = set((await session.execute(select(distinct(col(Contact.role))))).scalars())
        stmt = select(distinct(col(Contact.contact_policy)))
        policies = set((await session.execute(stmt)).scalars())
        assert roles == {r.value for r in ContactRole}
        assert policies == {p.value for p in ContactPolicy}

    async def test_direct_email_no_chase_confidential_and_nudges_each_appear__R_CP_3_R_CP_4(
        self, demo: Demo, session: AsyncSession
    ) -> None:
        flags: tuple[tuple[type[SQLModel], ColumnElement[bool]], ...] = (
            (Contact, col(Contact.candidate_may_email_directly).is_(True)),
            (Contact, col(Contact.no_chase).is_(True)),
            (Client, col(Client.confidential).is_(True)),
            (Client, col(Client.allow_automated_nudges).is_(True)),
            (Candidate, col(Candidate.status_emails_opt_out).is_(True)),
        )
        for model, flag in flags:
            assert await _count(session, model, flag) >= 1, flag

    async def test_every_client_has_two_or_three_contacts_and_jobs_use_their_own(
        self, demo: Demo, session: AsyncSession
    ) -> None:
        per_client: dict[int, int] = defaultdict(int)
        for contact in (await session.execute(select(Contact))).scalars():
            per_client[contact.client_id] += 1
        assert len(per_client) == demo.summary.clients
        assert all(2 <= n <= 3 for n in per_client.values())
        for job in (await session.execute(select(Job))).scalars():
            assert job.primary_contact_id is not None
            primary = await session.get(Contact, job.primary_contact_id)
            assert primary is not None and primary.client_id == job.client_id

    async def test_every_address_is_on_a_reserved_example_domain(
        self, demo: Demo, session: AsyncSession
    ) -> None:
        emails = [
            *(await session.execute(select(col(User.email)))).scalars(),
            *(await session.execute(select(col(Candidate.email)))).scalars(),
            *(await session.execute(select(col(Contact.email)))).scalars(),
        ]
        assert emails
        assert all(e is not None and e.endswith(".example") for e in emails), emails


class TestStages:
    async def test_submissions_stand_at_six_or_more_different_stages(
        self, demo: Demo, session: AsyncSession
    ) -> None:
        stages = {s.stage for s in await _submissions(session)}
        assert len(stages) >= 6
        for stage in (Stage.submitted, Stage.interviewed, Stage.offer, Stage.placed):
            assert stage in stages
        for stage in (Stage.rejected, Stage.withdrawn, Stage.interview_scheduled):
            assert stage in stages

    async def test_every_stage_history_follows_the_transition_table__R_ST(
        self, demo: Demo, session: AsyncSession
    ) -> None:
        history: dict[int, list[StageMove]] = defaultdict(list)
        stmt = select(StageMove).order_by(col(StageMove.id))
        for move in (await session.execute(stmt)).scalars():
            history[move.submission_id].append(move)
        checked_at = utcnow()
        for submission in await _submissions(session):
            moves = history[submission.id]  # type: ignore[index]
            assert moves[0].from_stage is None and moves[0].to_stage == Stage.submitted
            assert moves[0].occurred_at == submission.submitted_at
            for before, after in itertools.pairwise(moves):
                assert after.from_stage == before.to_stage
                assert can_move(Stage(before.to_stage), Stage(after.to_stage)), (before, after)
                assert before.occurred_at <= after.occurred_at
            assert all(m.occurred_at <= checked_at for m in moves)
            assert moves[-1].to_stage == submission.stage
            assert moves[-1].occurred_at == submission.stage_changed_at

    async def test_a_further_round_goes_back_to_interview_scheduled__R_ST(
        self, demo: Demo, session: AsyncSession
    ) -> None:
        stmt = select(func.count()).where(
            col(StageMove.from_stage) == Stage.interviewed,
            col(StageMove.to_stage) == Stage.interview_scheduled,
        )
        assert (await session.scalar(stmt) or 0) >= 1

    async def test_first_checks_fall_due_in_the_demos_first_minutes__R_SLA_1(
        self, demo: Demo, session: AsyncSession
    ) -> None:
        """A newcomer sees the cadence work: three first checks are due by five minutes after the
        demo starts (on a weekend or at night, at the last business instant before it), none
        longer ago than a long weekend, so the worker fires them straight away."""
        waiting = {s.id for s in await _submissions(session) if s.stage == Stage.submitted}
        firsts = (
            await session.execute(
                select(SlaCheck).where(
                    col(SlaCheck.kind) == "first", col(SlaCheck.submission_id).in_(waiting)
                )
            )
        ).scalars()
        soon = [
            c
            for c in firsts
            if demo.now - timedelta(days=4) <= c.due_at <= demo.now + timedelta(minutes=6)
        ]
        assert len(soon) >= 3
        recent = [
            s for s in await _submissions(session) if demo.now - s.submitted_at <= timedelta(days=2)
        ]
        assert len(recent) >= 1

    async def test_scheduled_interviews_lie_ahead_and_held_ones_behind_with_interviewers(
        self, demo: Demo, session: AsyncSession
    ) -> None:
        by_submission: dict[int, list[Interview]] = defaultdict(list)
        for interview in (await session.execute(select(Interview))).scalars():
            by_submission[interview.submission_id].append(interview)
            n = await _count(
                session,
                InterviewInterviewer,
                col(InterviewInterviewer.interview_id) == interview.id,
            )
            assert n >= 1, interview
        for submission in await _submissions(session):
            interviews = by_submission[submission.id]  # type: ignore[index]
            if submission.stage == Stage.interview_scheduled:
                assert any(
                    i.status == InterviewStatus.scheduled and i.starts_at > demo.now
                    for i in interviews
                )
            if submission.stage == Stage.interviewed:
                held = [i for i in interviews if i.status == InterviewStatus.held]
                assert held and all(i.ends_at < demo.now for i in held)
                assert all(i.stated_decision_date is not None for i in held)
                assert submission.stage_changed_at >= max(i.ends_at for i in held)


class TestFeedback:
    async def test_rejection_has_blunt_notes_and_a_summary_awaiting_approval__R_FB(
        self, demo: Demo, session: AsyncSession
    ) -> None:
        stmt = (
            select(Feedback)
            .join(Submission, col(Submission.id) == col(Feedback.submission_id))
            .where(col(Submission.stage) == Stage.rejected, col(Feedback.decision) == "reject")
        )
        rejection = (await session.execute(stmt)).scalars().one()
        assert rejection.internal_notes
        assert rejection.shareable_summary
        assert rejection.summary_status == SummaryStatus.pending

    async def test_exactly_one_summary_is_approved_and_notes_are_internal__R_CAND_6(
        self, demo: Demo, session: AsyncSession
    ) -> None:
        records = list((await session.execute(select(Feedback))).scalars())
        approved = [f for f in records if f.summary_status == SummaryStatus.approved]
        assert len(approved) == 1
        assert approved[0].summary_approved_at is not None
        assert sum(1 for f in records if f.internal_notes) >= 3
        assert all(f.received_at <= demo.now for f in records)


class TestKeys:
    async def test_admin_key_authenticates_as_admin(
        self, demo: Demo, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await session.commit()  # releases the savepoint: the app shares the test's transaction
        response = await client.get(
            "/v1/me", headers={"Authorization": f"Bearer {demo.summary.admin_key}"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["role"] == "admin"
        assert response.json()["actor_type"] == "api_client"

    async def test_each_recruiter_key_authenticates_and_sees_only_that_recruiters_work(
        self, demo: Demo, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await session.commit()
        assert len(demo.summary.recruiter_keys) == 3
        subs = await _submissions(session)
        jobs = list((await session.execute(select(Job))).scalars())
        for name, key in demo.summary.recruiter_keys.items():
            headers = {"Authorization": f"Bearer {key}"}
            me = await client.get("/v1/me", headers=headers)
            assert me.status_code == 200, me.text
            assert me.json()["role"] == "recruiter"
            user = await session.get(User, me.json()["actor_id"])
            assert user is not None and user.name == name
            listed = await client.get("/v1/submissions", headers=headers)
            assert listed.status_code == 200, listed.text
            # Their own submissions and those on their jobs, nothing else (ownership rule).
            own_jobs = {j.id for j in jobs if j.owner_id == user.id}
            expected = {s.id for s in subs if s.owner_id == user.id or s.job_id in own_jobs}
            assert expected
            assert {item["id"] for item in listed.json()["items"]} == expected

    async def test_integration_key_authenticates_as_integration(
        self, demo: Demo, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await session.commit()
        response = await client.get(
            "/v1/me", headers={"Authorization": f"Bearer {demo.summary.integration_key}"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["role"] == "integration"


class TestWhereTheDemoListens:
    """``make demo PORT=…`` and ``CANDOR_PORT`` (issue 12: a newcomer's port 8000 was taken)."""

    async def test_the_demo_serves_on_candor_port(self, tmp_path: Path) -> None:
        port = free_port()
        out = tmp_path / "demo.out"  # its output shows keys: the operator's, not a log
        with out.open("wb") as sink:
            proc = await asyncio.create_subprocess_exec(
                str(CANDOR),
                "demo",
                "--db",
                str(tmp_path / "demo.db"),
                stdout=sink,
                stderr=sink,
                env={**os.environ, "CANDOR_PORT": str(port)},
                cwd=tmp_path,
            )
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                    for _ in range(600):
                        assert proc.returncode is None, out.read_text()[-2000:]
                        with contextlib.suppress(httpx.TransportError):
                            if (await http.get("/health")).status_code == 200:
                                break
                        await asyncio.sleep(0.1)  # a bounded readiness poll
                    else:
                        raise AssertionError(out.read_text()[-2000:])
            finally:
                proc.terminate()
                await asyncio.wait_for(proc.wait(), timeout=60)
        assert f"http://127.0.0.1:{port}/docs" in out.read_text()
        # Stopping the demo stops the worker it started beside the API.
        assert _processes_with(str(tmp_path / "demo.db")) == ""

    def test_make_demo_passes_port_on(self) -> None:
        dry = subprocess.run(
            ["make", "-n", "demo", "PORT=8123"],  # noqa: S607 - make from PATH, as a developer runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "candor demo --port 8123" in dry.stdout
        plain = subprocess.run(
            ["make", "-n", "demo"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "--port" not in plain.stdout and "candor demo" in plain.stdout


def _processes_with(text: str) -> str:
    """The command lines of running processes whose environment or arguments name ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if text.encode() in (proc / "environ").read_bytes():
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return "\n".join(found)
