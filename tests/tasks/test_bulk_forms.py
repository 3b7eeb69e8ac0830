"""One way to write each record (issue 13): the bulk forms the SLA sweep uses
(``open_tasks``, ``record_many``: ``COPY`` on PostgreSQL) write exactly the rows the one-row
forms (``open_task``, ``record``) write, for every shape of task and event the product opens.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import Role
from app.auth.principal import SYSTEM, Principal
from app.events.models import Event
from app.events.service import NewEvent, record, record_many
from app.tasks.models import Task, TaskKind
from app.tasks.recruiter import NewTask, open_task, open_tasks
from tests.support.factories import make_submission, make_user

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
LONG = "é" * 2500  # over both bounds (title 300, detail 2000): cut the same way


def _task_row(task: Task) -> dict[str, Any]:
    return {
        name: getattr(task, name)
        for name in Task.model_fields
        if name not in {"id", "created_at", "updated_at", "check_id"}
        and not name.startswith("call_window")
    }


@pytest.mark.parametrize("kind", list(TaskKind))
@pytest.mark.parametrize("text", ["Chase the client", LONG])
async def test_open_tasks_writes_what_open_task_writes__R_SLA(
    session: AsyncSession, kind: TaskKind, text: str
) -> None:
    submission = await make_submission(session)
    new = NewTask(
        kind=kind,
        assignee_id=submission.owner_id,
        submission_id=submission.id,
        title=text,
        detail=text,
        due_at=NOW,
        breach_at=NOW + timedelta(days=1),
    )
    one = await open_task(
        session,
        kind=new.kind,
        assignee_id=new.assignee_id,
        submission_id=new.submission_id,
        title=new.title,
        detail=new.detail,
        due_at=new.due_at,
        breach_at=new.breach_at,
    )
    window = (NOW + timedelta(hours=1), NOW + timedelta(hours=2))
    ids = await open_tasks(
        session, [new, NewTask(**{**_fields(new), "call_window": window})], now=NOW
    )
    one_id = one.id
    session.expire_all()
    written = {
        t.id: t
        for t in (await session.execute(select(Task).where(col(Task.id).in_(ids)))).scalars()
    }
    assert set(written) == set(ids) and one_id not in ids
    reloaded = await session.get(Task, one_id)
    assert reloaded is not None
    for task_id in ids:
        assert _task_row(written[task_id]) == _task_row(reloaded)
        assert (written[task_id].created_at, written[task_id].updated_at) == (NOW, NOW)
    assert (written[ids[0]].call_window_start_at, written[ids[0]].call_window_end_at) == (
        None,
        None,
    )
    assert (written[ids[1]].call_window_start_at, written[ids[1]].call_window_end_at) == window
    assert len(reloaded.title) == min(len(text), 300)
    assert len(reloaded.detail or "") == min(len(text), 2000)


def _fields(new: NewTask) -> dict[str, Any]:
    return {name: getattr(new, name) for name in NewTask.__dataclass_fields__}


@pytest.mark.parametrize("actor", ["system", "user"])
@pytest.mark.parametrize("data", [{}, {"check_id": 7, "kind": "first", "task_id": None}])
async def test_record_many_writes_what_record_writes__R_ST(
    session: AsyncSession, actor: str, data: dict[str, Any]
) -> None:
    who = SYSTEM
    if actor == "user":
        user = await make_user(session)
        who = Principal(actor_type="user", actor_id=user.id, role=Role.recruiter)
    one_id = await record(
        session,
        who,
        action="sla.check_fired",
        record_type="submission",
        record_id=41,
        data=data,
        occurred_at=NOW,
    )
    await session.flush()
    await record_many(
        session,
        who,
        [NewEvent(action="sla.check_fired", record_type="submission", record_id=41, data=data)],
        occurred_at=NOW,
    )
    session.expire_all()
    found = await session.execute(
        select(Event).where(col(Event.record_id) == 41).order_by(col(Event.id))
    )
    rows = found.scalars().all()
    assert len(rows) == 2 and rows[0].id == one_id
    shape = [
        (r.occurred_at, r.actor_type, r.actor_id, r.action, r.record_type, r.record_id, r.data)
        for r in rows
    ]
    assert shape[0] == shape[1]
    assert shape[0][:3] == (NOW, who.actor_type, who.actor_id)
