"""The recruiter task queue: mine by default, filters, completion (R-SLA tasks, R-CALL)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utcnow
from tests.support.factories import make_caller, make_submission, make_task


class TestQueue:
    async def test_a_recruiter_sees_their_own_queue_by_default(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        me = await make_caller(session, "recruiter")
        other = await make_caller(session, "recruiter")
        mine = await make_task(session, assignee_id=me.user_id)
        await make_task(session, assignee_id=other.user_id)
        await session.commit()
        response = await client.get("/v1/tasks", headers=me.headers)
        assert [t["id"] for t in response.json()["items"]] == [mine.id]

    async def test_admins_filter_by_assignee_kind_state_and_submission(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        recruiter = await make_caller(session, "recruiter")
        submission = await make_submission(session, owner_id=recruiter.user_id)
        chase = await make_task(session, assignee_id=recruiter.user_id, submission_id=submission.id)
        decide = await make_task(session, assignee_id=recruiter.user_id, kind="decide")
        await make_task(session)
        await session.commit()

        async def ids(**params: str | int) -> list[int]:
            response = await client.get("/v1/tasks", params=params, headers=admin.headers)
            assert response.status_code == 200, response.text
            return [t["id"] for t in response.json()["items"]]

        assert await ids(assignee_id=recruiter.user_id) == [chase.id, decide.id]
        assert await ids(assignee_id=recruiter.user_id, kind="decide") == [decide.id]
        assert submission.id is not None
        assert await ids(submission_id=submission.id) == [chase.id]
        assert await ids(assignee_id=recruiter.user_id, state="done") == []

    async def test_overdue_means_open_and_past_its_breach(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        me = await make_caller(session, "recruiter")
        now = utcnow()
        late = await make_task(
            session,
            assignee_id=me.user_id,
            due_at=now - timedelta(days=2),
            breach_at=now - timedelta(days=1),
        )
        on_time = await make_task(session, assignee_id=me.user_id)
        await session.commit()
        overdue = await client.get("/v1/tasks", params={"overdue": True}, headers=me.headers)
        assert [t["id"] for t in overdue.json()["items"]] == [late.id]
        assert overdue.json()["items"][0]["overdue"] is True
        fine = await client.get("/v1/tasks", params={"overdue": False}, headers=me.headers)
        assert [t["id"] for t in fine.json()["items"]] == [on_time.id]


class TestCompletion:
    async def test_completing_a_task_records_when_and_refuses_twice(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        me = await make_caller(session, "recruiter")
        task = await make_task(session, assignee_id=me.user_id)
        await session.commit()
        done = await client.post(
            f"/v1/tasks/{task.id}/complete", json={"note": "called, waiting"}, headers=me.headers
        )
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "done" and done.json()["completed_at"].endswith("Z")
        again = await client.post(f"/v1/tasks/{task.id}/complete", json={}, headers=me.headers)
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"

    async def test_decide_actions_are_refused_on_other_tasks__R_SLA_4(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        me = await make_caller(session, "recruiter")
        task = await make_task(session, assignee_id=me.user_id)
        await session.commit()
        for action in ("keep-waiting", "close-submission"):
            response = await client.post(f"/v1/tasks/{task.id}/{action}", headers=me.headers)
            assert response.status_code == 409, action
