"""The records API: create, read, update, upsert by external id, list, filter, delete, events.

Covers the seven record types an ATS syncs (candidates, clients, contacts, jobs, submissions,
interviews, feedback) with the same checks where they apply, then each type's own rules.
Bad input gets a 4xx problem+json naming the field and changes nothing (R-IN).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.core import clock
from tests.support.factories import (
    Caller,
    make_caller,
    make_candidate,
    make_client,
    make_contact,
    make_feedback,
    make_interview,
    make_job,
    make_submission,
    make_user,
)

PROBLEM_JSON = "application/problem+json"
Json = dict[str, Any]


# --- helpers -----------------------------------------------------------------------------------


def _id(record: Any) -> int:
    record_id = record.id
    assert isinstance(record_id, int)
    return record_id


def _body(response: httpx.Response) -> Json:
    body: Json = response.json()
    return body


def _fields(response: httpx.Response) -> list[str]:
    return [str(error["field"]) for error in _body(response).get("errors") or []]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _ext() -> str:
    return f"ats-{uuid.uuid4().hex[:12]}"


def _assert_problem(response: httpx.Response, status: int) -> Json:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = _body(response)
    assert problem["status"] == status
    assert problem["detail"]
    return problem


async def _list_all(
    client: httpx.AsyncClient, caller: Caller, path: str, **params: Any
) -> list[Json]:
    response = await client.get(
        f"/v1/{path}", params={**params, "limit": 200}, headers=caller.headers
    )
    assert response.status_code == 200, response.text
    page = _body(response)
    assert page["next_cursor"] is None
    items: list[Json] = page["items"]
    return items


async def _list_ids(
    client: httpx.AsyncClient, caller: Caller, path: str, **params: Any
) -> list[int]:
    return [int(item["id"]) for item in await _list_all(client, caller, path, **params)]


async def _events(
    client: httpx.AsyncClient, admin: Caller, record_type: str, record_id: int
) -> list[Json]:
    response = await client.get(
        "/v1/events",
        params={"record_type": record_type, "record_id": record_id, "limit": 200},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    items: list[Json] = _body(response)["items"]
    return items


def _in_future(hours: int = 48) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)


# --- what differs per record type --------------------------------------------------------------

BodyMaker = Callable[[AsyncSession], Awaitable[Json]]
ManyMaker = Callable[[AsyncSession, int], Awaitable[list[int]]]


@dataclass(frozen=True)
class Kind:
    """One record type: its path, its event name, a valid create body and a one-field change."""

    path: str
    record_type: str
    body: BodyMaker
    change: BodyMaker
    make_many: ManyMaker
    #: The parent reference an upsert may not change (``None``: a top-level record).
    parent: str | None = None

    def __str__(self) -> str:
        return self.path


async def _candidate_body(session: AsyncSession) -> Json:
    owner = await make_user(session)
    return {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": f"grace-{uuid.uuid4().hex[:8]}@mail.example",
        "time_zone": "Europe/London",
        "owner_id": owner.id,
    }


async def _client_body(session: AsyncSession) -> Json:
    return {"name": f"Acme {uuid.uuid4().hex[:6]}"}


async def _contact_body(session: AsyncSession) -> Json:
    return {
        "name": "Linus Pauling",
        "email": "linus@client.example",
        "role": "interviewer",
        "client_id": _id(await make_client(session)),
    }


async def _job_body(session: AsyncSession) -> Json:
    return {
        "title": "Staff Engineer",
        "client_id": _id(await make_client(session)),
        "owner_id": _id(await make_user(session)),
    }


async def _submission_body(session: AsyncSession) -> Json:
    return {
        "candidate_id": _id(await make_candidate(session)),
        "job_id": _id(await make_job(session)),
    }


async def _interview_body(session: AsyncSession) -> Json:
    start = _in_future()
    return {
        "submission_id": _id(await make_submission(session)),
        "kind": "video",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
    }


async def _feedback_body(session: AsyncSession) -> Json:
    return {
        "submission_id": _id(await make_submission(session)),
        "decision": "hold",
        "internal_notes": "Strong on systems design.",
    }


async def _candidate_change(session: AsyncSession) -> Json:
    return {"phone": "+44 20 7946 0000"}


async def _client_change(session: AsyncSession) -> Json:
    return {"confidential": True}


async def _contact_change(session: AsyncSession) -> Json:
    return {"title": "VP Engineering"}


async def _job_change(session: AsyncSession) -> Json:
    return {"status": "on_hold"}


async def _submission_change(session: AsyncSession) -> Json:
    return {"owner_id": _id(await make_user(session))}


async def _interview_change(session: AsyncSession) -> Json:
    return {"location": "Room 4, second floor"}


async def _feedback_change(session: AsyncSession) -> Json:
    return {"decision": "advance"}


async def _many_candidates(session: AsyncSession, n: int) -> list[int]:
    return [_id(await make_candidate(session)) for _ in range(n)]


async def _many_clients(session: AsyncSession, n: int) -> list[int]:
    return [_id(await make_client(session)) for _ in range(n)]


async def _many_contacts(session: AsyncSession, n: int) -> list[int]:
    client_id = _id(await make_client(session))
    return [_id(await make_contact(session, client_id=client_id)) for _ in range(n)]


async def _many_jobs(session: AsyncSession, n: int) -> list[int]:
    return [_id(await make_job(session)) for _ in range(n)]


async def _many_submissions(session: AsyncSession, n: int) -> list[int]:
    return [_id(await make_submission(session)) for _ in range(n)]


async def _many_interviews(session: AsyncSession, n: int) -> list[int]:
    submission_id = _id(await make_submission(session))
    return [_id(await make_interview(session, submission_id=submission_id)) for _ in range(n)]


async def _many_feedback(session: AsyncSession, n: int) -> list[int]:
    submission_id = _id(await make_submission(session))
    return [_id(await make_feedback(session, submission_id=submission_id)) for _ in range(n)]


KINDS: list[Kind] = [
    Kind("candidates", "candidate", _candidate_body, _candidate_change, _many_candidates),
    Kind("clients", "client", _client_body, _client_change, _many_clients),
    Kind("contacts", "contact", _contact_body, _contact_change, _many_contacts, "client_id"),
    Kind("jobs", "job", _job_body, _job_change, _many_jobs, "client_id"),
    Kind(
        "submissions",
        "submission",
        _submission_body,
        _submission_change,
        _many_submissions,
        "job_id",
    ),
    Kind(
        "interviews",
        "interview",
        _interview_body,
        _interview_change,
        _many_interviews,
        "submission_id",
    ),
    Kind("feedback", "feedback", _feedback_body, _feedback_change, _many_feedback, "submission_id"),
]
CHILD_KINDS: list[Kind] = [kind for kind in KINDS if kind.parent is not None]
by_kind = pytest.mark.parametrize("kind", KINDS, ids=str)

INSTANT_FIELDS: tuple[str, ...] = (
    "created_at",
    "updated_at",
    "stage_changed_at",
    "submitted_at",
    "starts_at",
    "ends_at",
    "received_at",
)


def _assert_instants_in_utc(record: Json) -> None:
    """All instants are returned in UTC, written with ``Z`` (R-BT: RFC 3339, UTC)."""
    for name in INSTANT_FIELDS:
        if record.get(name) is not None:
            assert str(record[name]).endswith("Z"), f"{name}={record[name]!r} is not UTC"


# --- every record type -------------------------------------------------------------------------


class TestCreateAndReadBack:
    @by_kind
    async def test_create_answers_201_and_reads_back_the_same_record(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        body = await kind.body(session)
        await session.commit()

        created = await client.post(f"/v1/{kind.path}", json=body, headers=admin.headers)

        assert created.status_code == 201, created.text
        record = _body(created)
        for name, value in body.items():
            if name not in ("starts_at", "ends_at"):
                assert record[name] == value, name
        _assert_instants_in_utc(record)
        read = await client.get(f"/v1/{kind.path}/{record['id']}", headers=admin.headers)
        assert read.status_code == 200, read.text
        assert _body(read) == record

    @by_kind
    async def test_create_writes_a_created_event_with_the_actor(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        body = await kind.body(session)
        await session.commit()

        created = _body(await client.post(f"/v1/{kind.path}", json=body, headers=admin.headers))

        events = await _events(client, admin, kind.record_type, created["id"])
        assert [e["action"] for e in events] == [f"{kind.record_type}.created"]
        assert events[0]["actor_type"] == "user"
        assert events[0]["actor_id"] == admin.user_id
        assert events[0]["occurred_at"].endswith("Z")


class TestPartialUpdate:
    @by_kind
    async def test_patch_changes_only_the_given_field_and_bumps_updated_at(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        body = await kind.body(session)
        change = await kind.change(session)
        await session.commit()
        before = _body(await client.post(f"/v1/{kind.path}", json=body, headers=admin.headers))

        response = await client.patch(
            f"/v1/{kind.path}/{before['id']}", json=change, headers=admin.headers
        )

        assert response.status_code == 200, response.text
        after = _body(response)
        for name, value in change.items():
            assert after[name] == value, name
            assert before[name] != value, f"the change to {name} must be a real change"
        untouched = set(before) - set(change) - {"updated_at"}
        assert {k: after[k] for k in untouched} == {k: before[k] for k in untouched}
        assert _instant(after["updated_at"]) > _instant(before["updated_at"])
        _assert_instants_in_utc(after)
        read = _body(await client.get(f"/v1/{kind.path}/{before['id']}", headers=admin.headers))
        assert read == after

    @by_kind
    async def test_patch_writes_an_updated_event_naming_the_fields(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        body = await kind.body(session)
        change = await kind.change(session)
        await session.commit()
        record = _body(await client.post(f"/v1/{kind.path}", json=body, headers=admin.headers))

        await client.patch(f"/v1/{kind.path}/{record['id']}", json=change, headers=admin.headers)

        events = await _events(client, admin, kind.record_type, record["id"])
        assert [e["action"] for e in events] == [
            f"{kind.record_type}.created",
            f"{kind.record_type}.updated",
        ]
        assert events[1]["data"]["fields"] == list(change)

    @by_kind
    async def test_patch_that_changes_nothing_keeps_updated_at_and_writes_no_event(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        body = await kind.body(session)
        change = await kind.change(session)
        await session.commit()
        record = _body(await client.post(f"/v1/{kind.path}", json=body, headers=admin.headers))
        first = _body(
            await client.patch(
                f"/v1/{kind.path}/{record['id']}", json=change, headers=admin.headers
            )
        )

        again = await client.patch(
            f"/v1/{kind.path}/{record['id']}", json=change, headers=admin.headers
        )

        assert again.status_code == 200, again.text
        assert _body(again)["updated_at"] == first["updated_at"]
        assert len(await _events(client, admin, kind.record_type, record["id"])) == 2

    @by_kind
    async def test_patch_with_an_unknown_field_is_refused__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        body = await kind.body(session)
        await session.commit()
        record = _body(await client.post(f"/v1/{kind.path}", json=body, headers=admin.headers))

        response = await client.patch(
            f"/v1/{kind.path}/{record['id']}", json={"id": 999_999}, headers=admin.headers
        )

        _assert_problem(response, 422)
        assert "body.id" in _fields(response)
        read = _body(await client.get(f"/v1/{kind.path}/{record['id']}", headers=admin.headers))
        assert read == record


class TestUpsertByExternalId:
    @by_kind
    async def test_put_creates_then_updates_the_same_record(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        ats = await make_caller(session, "integration")
        admin = await make_caller(session, "admin")
        body = await kind.body(session)
        change = await kind.change(session)
        await session.commit()
        external_id = _ext()
        url = f"/v1/{kind.path}/by-external-id/{external_id}"

        first = await client.put(url, json=body, headers=ats.headers)
        second = await client.put(url, json={**body, **change}, headers=ats.headers)

        assert first.status_code == 201, first.text
        assert second.status_code == 200, second.text
        created, updated = _body(first), _body(second)
        assert created["external_id"] == external_id
        assert updated["id"] == created["id"]
        assert updated["external_id"] == external_id
        for name, value in change.items():
            assert updated[name] == value, name
        assert await _list_ids(client, admin, kind.path, external_id=external_id) == [created["id"]]
        actions = [
            e["action"] for e in await _events(client, admin, kind.record_type, created["id"])
        ]
        assert actions == [f"{kind.record_type}.created", f"{kind.record_type}.updated"]

    @by_kind
    async def test_post_with_an_external_id_already_taken_is_a_conflict(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        first_body = await kind.body(session)
        second_body = await kind.body(session)
        await session.commit()
        external_id = _ext()
        first = await client.post(
            f"/v1/{kind.path}",
            json={**first_body, "external_id": external_id},
            headers=admin.headers,
        )
        assert first.status_code == 201, first.text
        ids_before = await _list_ids(client, admin, kind.path)

        second = await client.post(
            f"/v1/{kind.path}",
            json={**second_body, "external_id": external_id},
            headers=admin.headers,
        )

        problem = _assert_problem(second, 409)
        assert external_id in problem["detail"]
        assert await _list_ids(client, admin, kind.path) == ids_before

    @by_kind
    async def test_patch_to_an_external_id_already_taken_is_a_conflict(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        first_body = await kind.body(session)
        second_body = await kind.body(session)
        await session.commit()
        external_id = _ext()
        await client.post(
            f"/v1/{kind.path}",
            json={**first_body, "external_id": external_id},
            headers=admin.headers,
        )
        other = _body(
            await client.post(f"/v1/{kind.path}", json=second_body, headers=admin.headers)
        )

        response = await client.patch(
            f"/v1/{kind.path}/{other['id']}",
            json={"external_id": external_id},
            headers=admin.headers,
        )

        _assert_problem(response, 409)
        read = _body(await client.get(f"/v1/{kind.path}/{other['id']}", headers=admin.headers))
        assert read["external_id"] is None

    @pytest.mark.parametrize("kind", CHILD_KINDS, ids=str)
    async def test_put_cannot_move_a_record_to_another_parent(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        ats = await make_caller(session, "integration")
        admin = await make_caller(session, "admin")
        body = await kind.body(session)
        other_parent = (await kind.body(session))[str(kind.parent)]
        await session.commit()
        url = f"/v1/{kind.path}/by-external-id/{_ext()}"
        created = _body(await client.put(url, json=body, headers=ats.headers))

        response = await client.put(
            url, json={**body, str(kind.parent): other_parent}, headers=ats.headers
        )

        _assert_problem(response, 409)
        read = _body(await client.get(f"/v1/{kind.path}/{created['id']}", headers=admin.headers))
        assert read == created

    @by_kind
    async def test_put_with_another_external_id_in_the_body_is_refused__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        ats = await make_caller(session, "integration")
        body = await kind.body(session)
        await session.commit()
        in_path = _ext()

        response = await client.put(
            f"/v1/{kind.path}/by-external-id/{in_path}",
            json={**body, "external_id": _ext()},
            headers=ats.headers,
        )

        _assert_problem(response, 422)
        assert "body.external_id" in _fields(response)
        assert await _list_ids(client, ats, kind.path, external_id=in_path) == []

    @by_kind
    async def test_put_by_a_recruiter_key_is_forbidden(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        recruiter = await make_caller(session, "recruiter")
        body = await kind.body(session)
        await session.commit()

        response = await client.put(
            f"/v1/{kind.path}/by-external-id/{_ext()}", json=body, headers=recruiter.headers
        )

        _assert_problem(response, 403)


class TestListPagination:
    @by_kind
    async def test_cursor_walk_returns_every_record_once_in_id_order(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        made = await kind.make_many(session, 5)
        await session.commit()

        seen: list[int] = []
        page_sizes: list[int] = []
        params: dict[str, Any] = {"limit": 2}
        for _ in range(10):  # bounded: a cursor that never ends fails the test, not the run
            response = await client.get(f"/v1/{kind.path}", params=params, headers=admin.headers)
            assert response.status_code == 200, response.text
            page = _body(response)
            page_sizes.append(len(page["items"]))
            seen.extend(int(item["id"]) for item in page["items"])
            if page["next_cursor"] is None:
                break
            params = {"limit": 2, "cursor": page["next_cursor"]}
        else:
            pytest.fail("next_cursor never became null")

        assert seen == sorted(made)
        assert page_sizes == [2, 2, 1]

    @by_kind
    async def test_limit_over_200_is_refused__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        await session.commit()

        response = await client.get(
            f"/v1/{kind.path}", params={"limit": 201}, headers=admin.headers
        )

        _assert_problem(response, 422)
        assert "query.limit" in _fields(response)

    @by_kind
    @pytest.mark.parametrize(
        "cursor", ["garbage!", "e30", "eyJhIjotMX0", "W10", "eyJhIjoiMSJ9", "x" * 201]
    )
    async def test_garbage_cursor_is_refused__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind, cursor: str
    ) -> None:
        # "e30" is {}, "eyJhIjotMX0" is {"a":-1}, "W10" is [], "eyJhIjoiMSJ9" is {"a":"1"}.
        admin = await make_caller(session, "admin")
        await session.commit()

        response = await client.get(
            f"/v1/{kind.path}", params={"cursor": cursor}, headers=admin.headers
        )

        _assert_problem(response, 422)
        assert "query.cursor" in _fields(response)


#: Far enough ahead that no record of the test but those it places is changed after it.
SYNC_FROM = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


async def _place(session: AsyncSession, kind: Kind, updated: dict[int, datetime]) -> None:
    """Set records' ``updated_at`` as a sync would find them (ties included)."""
    table = SQLModel.metadata.tables[kind.record_type]
    for record_id, at in updated.items():
        await session.execute(update(table).where(table.c.id == record_id).values(updated_at=at))
    await session.commit()


async def _sync_page(
    client: httpx.AsyncClient, caller: Caller, path: str, cursor: str | None, limit: int = 2
) -> Json:
    params: dict[str, Any] = {"updated_since": SYNC_FROM.isoformat(), "limit": limit}
    if cursor is not None:
        params["cursor"] = cursor
    response = await client.get(f"/v1/{path}", params=params, headers=caller.headers)
    assert response.status_code == 200, response.text
    return _body(response)


class TestSyncWalksByKeyset:
    """Issue 14 / R-IN: an ``updated_since`` list pages by keyset on ``(updated_at, id)``; the
    contract is in app.core.pagination (each record once per walk, a record changed during the
    walk read again at its end, a cursor of the other order refused)."""

    @by_kind
    async def test_a_walk_visits_each_record_once_in_updated_at_then_id_order(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        ids = sorted(await kind.make_many(session, 5))
        second = timedelta(seconds=1)
        # Three share one instant (ties broken by id), one is later, one is last.
        placed = {
            ids[0]: SYNC_FROM + 2 * second,
            ids[1]: SYNC_FROM,
            ids[2]: SYNC_FROM,
            ids[3]: SYNC_FROM + second,
            ids[4]: SYNC_FROM,
        }
        await _place(session, kind, placed)

        seen: list[int] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = await _sync_page(client, admin, kind.path, cursor)
            pages += 1
            seen += [int(item["id"]) for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break

        assert seen == [ids[1], ids[2], ids[4], ids[3], ids[0]]
        assert pages == 3

    @by_kind
    async def test_a_record_changed_during_the_walk_is_read_again_at_its_end(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        ids = sorted(await kind.make_many(session, 4))
        await _place(session, kind, {record_id: SYNC_FROM for record_id in ids})
        change = await kind.change(session)
        await session.commit()

        first = await _sync_page(client, admin, kind.path, None)
        assert [int(item["id"]) for item in first["items"]] == ids[:2]
        with clock.at(SYNC_FROM + timedelta(minutes=5)):
            patched = await client.patch(
                f"/v1/{kind.path}/{ids[0]}", json=change, headers=admin.headers
            )
        assert patched.status_code == 200, patched.text
        rest: list[int] = []
        cursor = first["next_cursor"]
        while cursor is not None:
            page = await _sync_page(client, admin, kind.path, cursor)
            rest += [int(item["id"]) for item in page["items"]]
            cursor = page["next_cursor"]

        assert rest == [ids[2], ids[3], ids[0]]

    @by_kind
    async def test_a_cursor_of_the_other_order_is_refused__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        ids = sorted(await kind.make_many(session, 3))
        await _place(session, kind, {record_id: SYNC_FROM for record_id in ids})
        listed = await client.get(f"/v1/{kind.path}", params={"limit": 1}, headers=admin.headers)
        list_cursor = _body(listed)["next_cursor"]
        sync_cursor = (await _sync_page(client, admin, kind.path, None, limit=1))["next_cursor"]
        assert list_cursor and sync_cursor

        as_sync = await client.get(
            f"/v1/{kind.path}",
            params={"updated_since": SYNC_FROM.isoformat(), "cursor": list_cursor},
            headers=admin.headers,
        )
        as_list = await client.get(
            f"/v1/{kind.path}", params={"cursor": sync_cursor}, headers=admin.headers
        )

        for response in (as_sync, as_list):
            _assert_problem(response, 422)
            assert "query.cursor" in _fields(response)


class TestUpdatedSince:
    @by_kind
    async def test_only_records_changed_at_or_after_the_instant_are_listed(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        changed_id, unchanged_id = await kind.make_many(session, 2)
        change = await kind.change(session)
        await session.commit()
        patched = await client.patch(
            f"/v1/{kind.path}/{changed_id}", json=change, headers=admin.headers
        )
        assert patched.status_code == 200, patched.text
        at = _instant(_body(patched)["updated_at"])

        at_instant = await _list_ids(client, admin, kind.path, updated_since=at.isoformat())
        in_other_zone = await _list_ids(
            client,
            admin,
            kind.path,
            updated_since=at.astimezone(timezone(timedelta(hours=-7))).isoformat(),
        )
        just_after = await _list_ids(
            client, admin, kind.path, updated_since=(at + timedelta(microseconds=1)).isoformat()
        )
        before_both = await _list_ids(
            client, admin, kind.path, updated_since=(at - timedelta(days=1)).isoformat()
        )

        assert at_instant == [changed_id]
        assert in_other_zone == [changed_id]
        assert just_after == []
        assert set(before_both) >= {changed_id, unchanged_id}

    @by_kind
    async def test_naive_updated_since_is_refused__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind
    ) -> None:
        admin = await make_caller(session, "admin")
        await session.commit()

        response = await client.get(
            f"/v1/{kind.path}",
            params={"updated_since": "2024-01-01T10:00:00"},
            headers=admin.headers,
        )

        _assert_problem(response, 422)
        assert "query.updated_since" in _fields(response)


# --- list filters ------------------------------------------------------------------------------


class TestListFilters:
    async def test_candidates_filter_by_owner(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        a, b = _id(await make_user(session)), _id(await make_user(session))
        mine = [_id(await make_candidate(session, owner_id=a)) for _ in range(2)]
        await make_candidate(session, owner_id=b)
        await session.commit()

        assert await _list_ids(client, admin, "candidates", owner_id=a) == mine

    async def test_jobs_filter_by_owner_and_by_client(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        a, b = _id(await make_user(session)), _id(await make_user(session))
        c1, c2 = _id(await make_client(session)), _id(await make_client(session))
        j1 = _id(await make_job(session, owner_id=a, client_id=c1))
        j2 = _id(await make_job(session, owner_id=b, client_id=c1))
        j3 = _id(await make_job(session, owner_id=a, client_id=c2))
        await session.commit()

        assert await _list_ids(client, admin, "jobs", owner_id=a) == [j1, j3]
        assert await _list_ids(client, admin, "jobs", client_id=c1) == [j1, j2]
        assert await _list_ids(client, admin, "jobs", owner_id=a, client_id=c1) == [j1]

    async def test_contacts_filter_by_client(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        c1, c2 = _id(await make_client(session)), _id(await make_client(session))
        of_c1 = [_id(await make_contact(session, client_id=c1)) for _ in range(2)]
        await make_contact(session, client_id=c2)
        await session.commit()

        assert await _list_ids(client, admin, "contacts", client_id=c1) == of_c1

    async def test_submissions_filter_by_owner_stage_candidate_and_job__R_ST(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        a, b = _id(await make_user(session)), _id(await make_user(session))
        cand1, cand2 = _id(await make_candidate(session)), _id(await make_candidate(session))
        job1, job2 = _id(await make_job(session)), _id(await make_job(session))
        s1 = _id(await make_submission(session, candidate_id=cand1, job_id=job1, owner_id=a))
        s2 = _id(await make_submission(session, candidate_id=cand1, job_id=job2, owner_id=b))
        s3 = _id(await make_submission(session, candidate_id=cand2, job_id=job1, owner_id=a))
        await session.commit()
        moved = await client.post(
            f"/v1/submissions/{s3}/moves", json={"to_stage": "rejected"}, headers=admin.headers
        )
        assert moved.status_code == 200, moved.text

        assert await _list_ids(client, admin, "submissions", owner_id=a) == [s1, s3]
        assert await _list_ids(client, admin, "submissions", owner_id=b) == [s2]
        assert await _list_ids(client, admin, "submissions", stage="rejected") == [s3]
        assert await _list_ids(client, admin, "submissions", stage="submitted") == [s1, s2]
        assert await _list_ids(client, admin, "submissions", stage="offer") == []
        assert await _list_ids(client, admin, "submissions", candidate_id=cand1) == [s1, s2]
        assert await _list_ids(client, admin, "submissions", job_id=job1) == [s1, s3]
        assert await _list_ids(client, admin, "submissions", candidate_id=cand1, job_id=job1) == [
            s1
        ]

    async def test_submissions_refuse_an_unknown_stage_filter__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        await session.commit()

        response = await client.get(
            "/v1/submissions", params={"stage": "hired"}, headers=admin.headers
        )

        _assert_problem(response, 422)
        assert "query.stage" in _fields(response)

    @pytest.mark.parametrize("path", ["interviews", "feedback"])
    async def test_interviews_and_feedback_filter_by_submission(
        self, client: httpx.AsyncClient, session: AsyncSession, path: str
    ) -> None:
        admin = await make_caller(session, "admin")
        sub1, sub2 = _id(await make_submission(session)), _id(await make_submission(session))
        make = make_interview if path == "interviews" else make_feedback
        of_sub1 = [_id(await make(session, submission_id=sub1)) for _ in range(2)]
        await make(session, submission_id=sub2)
        await session.commit()

        assert await _list_ids(client, admin, path, submission_id=sub1) == of_sub1

    @pytest.mark.parametrize(
        ("path", "name"),
        [
            ("candidates", "owner_id"),
            ("jobs", "owner_id"),
            ("jobs", "client_id"),
            ("contacts", "client_id"),
            ("submissions", "owner_id"),
            ("submissions", "candidate_id"),
            ("submissions", "job_id"),
            ("interviews", "submission_id"),
            ("feedback", "submission_id"),
        ],
    )
    async def test_a_zero_or_non_numeric_id_filter_is_refused__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, path: str, name: str
    ) -> None:
        admin = await make_caller(session, "admin")
        await session.commit()

        zero = await client.get(f"/v1/{path}", params={name: 0}, headers=admin.headers)
        text = await client.get(f"/v1/{path}", params={name: "abc"}, headers=admin.headers)

        for response in (zero, text):
            _assert_problem(response, 422)
            assert f"query.{name}" in _fields(response)


# --- rules of single record types --------------------------------------------------------------


class TestInterviewers:
    async def test_interviewer_from_another_client_is_refused__R_TY_5(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        job = await make_job(session)
        own = await make_contact(session, client_id=job.client_id)
        stranger = await make_contact(session)
        submission = await make_submission(session, job_id=job.id)
        await session.commit()
        start = _in_future()
        body = {
            "submission_id": submission.id,
            "kind": "onsite",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "interviewer_ids": [own.id, stranger.id],
        }

        response = await client.post("/v1/interviews", json=body, headers=admin.headers)

        problem = _assert_problem(response, 422)
        assert "body.interviewer_ids" in _fields(response)
        assert str(stranger.id) in problem["detail"]
        assert await _list_ids(client, admin, "interviews", submission_id=submission.id) == []

    async def test_interviewers_of_the_jobs_client_are_kept_sorted_and_unique__R_TY_5(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        job = await make_job(session)
        first = _id(await make_contact(session, client_id=job.client_id))
        second = _id(await make_contact(session, client_id=job.client_id))
        submission = await make_submission(session, job_id=job.id)
        await session.commit()
        start = _in_future()
        body = {
            "submission_id": submission.id,
            "kind": "panel",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "interviewer_ids": [second, first, second],
        }

        response = await client.post("/v1/interviews", json=body, headers=admin.headers)

        assert response.status_code == 201, response.text
        assert _body(response)["interviewer_ids"] == [first, second]
        read = await client.get(f"/v1/interviews/{_body(response)['id']}", headers=admin.headers)
        assert _body(read)["interviewer_ids"] == [first, second]

    async def test_patch_replaces_the_interviewers_and_answers_the_new_list__R_TY_5(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        job = await make_job(session)
        old = _id(await make_contact(session, client_id=job.client_id))
        new = _id(await make_contact(session, client_id=job.client_id))
        submission = await make_submission(session, job_id=job.id)
        interview = await make_interview(
            session, submission_id=submission.id, interviewer_ids=[old]
        )
        await session.commit()
        url = f"/v1/interviews/{interview.id}"

        response = await client.patch(url, json={"interviewer_ids": [new]}, headers=admin.headers)

        assert response.status_code == 200, response.text
        assert _body(response)["interviewer_ids"] == [new]
        assert _body(await client.get(url, headers=admin.headers))["interviewer_ids"] == [new]
        events = await _events(client, admin, "interview", _id(interview))
        assert events[-1]["data"]["fields"] == ["interviewer_ids"]

    async def test_patch_to_an_interviewer_from_another_client_is_refused__R_TY_5(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        job = await make_job(session)
        own = _id(await make_contact(session, client_id=job.client_id))
        stranger = _id(await make_contact(session))
        submission = await make_submission(session, job_id=job.id)
        interview = await make_interview(
            session, submission_id=submission.id, interviewer_ids=[own]
        )
        await session.commit()
        url = f"/v1/interviews/{interview.id}"
        before = _body(await client.get(url, headers=admin.headers))

        response = await client.patch(
            url, json={"interviewer_ids": [stranger]}, headers=admin.headers
        )

        _assert_problem(response, 422)
        assert "body.interviewer_ids" in _fields(response)
        assert _body(await client.get(url, headers=admin.headers)) == before

    @pytest.mark.parametrize("final_stage", ["placed", "rejected", "withdrawn", "closed"])
    async def test_submission_in_a_final_stage_takes_no_interview__R_ST(
        self, client: httpx.AsyncClient, session: AsyncSession, final_stage: str
    ) -> None:
        admin = await make_caller(session, "admin")
        body = await _interview_body(session)
        await session.commit()
        sid = body["submission_id"]
        path = {
            "placed": ["interview_scheduled", "interviewed", "offer", "placed"],
            "rejected": ["rejected"],
            "withdrawn": ["withdrawn"],
            "closed": ["closed"],
        }[final_stage]
        for stage in path:
            moved = await client.post(
                f"/v1/submissions/{sid}/moves", json={"to_stage": stage}, headers=admin.headers
            )
            assert moved.status_code == 200, moved.text

        response = await client.post("/v1/interviews", json=body, headers=admin.headers)

        _assert_problem(response, 409)
        assert await _list_ids(client, admin, "interviews", submission_id=sid) == []

    async def test_interview_ending_before_it_starts_is_refused__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        submission = await make_submission(session)
        await session.commit()
        start = _in_future()
        body = {
            "submission_id": submission.id,
            "kind": "video",
            "starts_at": start.isoformat(),
            "ends_at": (start - timedelta(minutes=1)).isoformat(),
        }

        response = await client.post("/v1/interviews", json=body, headers=admin.headers)

        _assert_problem(response, 422)
        assert await _list_ids(client, admin, "interviews", submission_id=submission.id) == []


class TestJobPrimaryContact:
    async def test_primary_contact_of_another_client_is_refused_on_create(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        owner = await make_user(session)
        job_client = await make_client(session)
        stranger = await make_contact(session)
        await session.commit()
        body = {
            "title": "Data Engineer",
            "client_id": job_client.id,
            "owner_id": owner.id,
            "primary_contact_id": stranger.id,
        }

        response = await client.post("/v1/jobs", json=body, headers=admin.headers)

        _assert_problem(response, 422)
        assert "body.primary_contact_id" in _fields(response)
        assert await _list_ids(client, admin, "jobs", client_id=_id(job_client)) == []

    async def test_primary_contact_of_the_jobs_client_is_accepted(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        owner = await make_user(session)
        contact = await make_contact(session)
        await session.commit()
        body = {
            "title": "Data Engineer",
            "client_id": contact.client_id,
            "owner_id": owner.id,
            "primary_contact_id": contact.id,
        }

        response = await client.post("/v1/jobs", json=body, headers=admin.headers)

        assert response.status_code == 201, response.text
        assert _body(response)["primary_contact_id"] == contact.id

    async def test_primary_contact_of_another_client_is_refused_on_update(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        job = await make_job(session)
        stranger = await make_contact(session)
        await session.commit()
        url = f"/v1/jobs/{job.id}"
        before = _body(await client.get(url, headers=admin.headers))

        response = await client.patch(
            url, json={"primary_contact_id": stranger.id}, headers=admin.headers
        )

        _assert_problem(response, 422)
        assert "body.primary_contact_id" in _fields(response)
        assert _body(await client.get(url, headers=admin.headers)) == before


class TestFeedbackSummaryApproval:
    async def test_approve_then_change_summary_needs_approval_again__R_CAND_6_R_FB(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        feedback = await make_feedback(session, shareable_summary="Great communicator.")
        await session.commit()
        url = f"/v1/feedback/{feedback.id}"
        assert _body(await client.get(url, headers=admin.headers))["summary_status"] == "pending"

        approved = await client.post(f"{url}/approve-summary", headers=admin.headers)

        assert approved.status_code == 200, approved.text
        body = _body(approved)
        assert body["summary_status"] == "approved"
        assert body["summary_approved_by_type"] == "user"
        assert body["summary_approved_by"] == admin.user_id
        assert body["summary_approved_at"].endswith("Z")

        changed = await client.patch(
            url,
            json={"shareable_summary": "Great communicator; keep applying."},
            headers=admin.headers,
        )

        assert changed.status_code == 200, changed.text
        reset = _body(changed)
        assert reset["summary_status"] == "pending"
        assert reset["summary_approved_by"] is None
        assert reset["summary_approved_by_type"] is None
        assert reset["summary_approved_at"] is None
        actions = [e["action"] for e in await _events(client, admin, "feedback", _id(feedback))]
        assert actions == ["feedback.created", "feedback.summary_approved", "feedback.updated"]

    async def test_changing_only_internal_notes_keeps_the_approval__R_CAND_6(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        feedback = await make_feedback(session, shareable_summary="Great communicator.")
        await session.commit()
        url = f"/v1/feedback/{feedback.id}"
        await client.post(f"{url}/approve-summary", headers=admin.headers)

        changed = await client.patch(
            url, json={"internal_notes": "Salary expectations high."}, headers=admin.headers
        )

        assert changed.status_code == 200, changed.text
        assert _body(changed)["summary_status"] == "approved"

    async def test_approving_without_a_summary_is_a_conflict__R_FB(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        feedback = await make_feedback(session)
        await session.commit()

        response = await client.post(
            f"/v1/feedback/{feedback.id}/approve-summary", headers=admin.headers
        )

        _assert_problem(response, 409)
        read = await client.get(f"/v1/feedback/{feedback.id}", headers=admin.headers)
        assert _body(read)["summary_status"] == "none"


class TestDeletes:
    async def test_client_with_contacts_cannot_be_deleted(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        contact = await make_contact(session)
        await session.commit()

        response = await client.delete(f"/v1/clients/{contact.client_id}", headers=admin.headers)

        _assert_problem(response, 409)
        read = await client.get(f"/v1/clients/{contact.client_id}", headers=admin.headers)
        assert read.status_code == 200

    async def test_client_with_jobs_cannot_be_deleted(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        job = await make_job(session)
        await session.commit()

        response = await client.delete(f"/v1/clients/{job.client_id}", headers=admin.headers)

        _assert_problem(response, 409)
        assert (await client.get(f"/v1/clients/{job.client_id}", headers=admin.headers)).is_success

    async def test_contact_who_interviewed_cannot_be_deleted__R_TY_5(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        job = await make_job(session)
        contact = _id(await make_contact(session, client_id=job.client_id))
        submission = await make_submission(session, job_id=job.id)
        await make_interview(session, submission_id=submission.id, interviewer_ids=[contact])
        await session.commit()

        response = await client.delete(f"/v1/contacts/{contact}", headers=admin.headers)

        _assert_problem(response, 409)
        assert (await client.get(f"/v1/contacts/{contact}", headers=admin.headers)).is_success

    async def test_primary_contact_of_a_job_cannot_be_deleted(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        contact = await make_contact(session)
        await make_job(session, client_id=contact.client_id, primary_contact_id=contact.id)
        await session.commit()

        response = await client.delete(f"/v1/contacts/{contact.id}", headers=admin.headers)

        _assert_problem(response, 409)

    async def test_job_with_submissions_cannot_be_deleted(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        submission = await make_submission(session)
        await session.commit()

        response = await client.delete(f"/v1/jobs/{submission.job_id}", headers=admin.headers)

        _assert_problem(response, 409)
        assert (await client.get(f"/v1/jobs/{submission.job_id}", headers=admin.headers)).is_success

    async def test_unreferenced_contact_is_deleted_with_an_event(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        contact = _id(await make_contact(session))
        await session.commit()

        response = await client.delete(f"/v1/contacts/{contact}", headers=admin.headers)

        assert response.status_code == 204, response.text
        assert response.content == b""
        _assert_problem(await client.get(f"/v1/contacts/{contact}", headers=admin.headers), 404)
        actions = [e["action"] for e in await _events(client, admin, "contact", contact)]
        assert actions == ["contact.created", "contact.deleted"]

    @pytest.mark.parametrize("path", ["clients", "jobs"])
    async def test_unreferenced_client_or_job_is_deleted_with_an_event(
        self, client: httpx.AsyncClient, session: AsyncSession, path: str
    ) -> None:
        admin = await make_caller(session, "admin")
        record = _id(await (make_client(session) if path == "clients" else make_job(session)))
        await session.commit()
        record_type = path[:-1]

        response = await client.delete(f"/v1/{path}/{record}", headers=admin.headers)

        assert response.status_code == 204, response.text
        _assert_problem(await client.get(f"/v1/{path}/{record}", headers=admin.headers), 404)
        actions = [e["action"] for e in await _events(client, admin, record_type, record)]
        assert actions == [f"{record_type}.created", f"{record_type}.deleted"]

    @pytest.mark.parametrize("path", ["clients", "contacts"])
    async def test_recruiter_key_cannot_delete_shared_directory_records(
        self, client: httpx.AsyncClient, session: AsyncSession, path: str
    ) -> None:
        recruiter = await make_caller(session, "recruiter")
        admin = await make_caller(session, "admin")
        record = _id(await (make_client(session) if path == "clients" else make_contact(session)))
        await session.commit()

        response = await client.delete(f"/v1/{path}/{record}", headers=recruiter.headers)

        _assert_problem(response, 403)
        assert (await client.get(f"/v1/{path}/{record}", headers=admin.headers)).is_success

    async def test_recruiter_cannot_delete_another_recruiters_job(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        recruiter = await make_caller(session, "recruiter")
        admin = await make_caller(session, "admin")
        job = _id(await make_job(session))
        await session.commit()

        response = await client.delete(f"/v1/jobs/{job}", headers=recruiter.headers)

        _assert_problem(response, 404)
        assert (await client.get(f"/v1/jobs/{job}", headers=admin.headers)).is_success


class TestEventsForEveryChange:
    async def test_submission_lifecycle_is_fully_in_the_event_log__R_ST(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        body = await _submission_body(session)
        other_owner = _id(await make_user(session))
        await session.commit()
        created = _body(await client.post("/v1/submissions", json=body, headers=admin.headers))
        sid = created["id"]

        await client.patch(
            f"/v1/submissions/{sid}", json={"owner_id": other_owner}, headers=admin.headers
        )
        await client.post(
            f"/v1/submissions/{sid}/moves", json={"to_stage": "withdrawn"}, headers=admin.headers
        )

        events = await _events(client, admin, "submission", sid)
        assert [e["action"] for e in events] == [
            "submission.created",
            "submission.updated",
            "submission.stage_changed",
        ]
        assert {(e["actor_type"], e["actor_id"]) for e in events} == {("user", admin.user_id)}
        assert all(e["record_id"] == sid for e in events)

    async def test_events_are_admin_only(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        recruiter = await make_caller(session, "recruiter")
        ats = await make_caller(session, "integration")
        await session.commit()

        for caller in (recruiter, ats):
            _assert_problem(await client.get("/v1/events", headers=caller.headers), 403)


# --- ownership ---------------------------------------------------------------------------------


class TestCandidateOwnership:
    async def test_recruiter_owns_the_candidate_they_create_without_owner_id(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        recruiter = await make_caller(session, "recruiter")
        body = await _candidate_body(session)
        del body["owner_id"]
        await session.commit()

        response = await client.post("/v1/candidates", json=body, headers=recruiter.headers)

        assert response.status_code == 201, response.text
        assert _body(response)["owner_id"] == recruiter.user_id
        listed = await _list_ids(client, recruiter, "candidates")
        assert listed == [_body(response)["id"]]

    async def test_recruiter_naming_themselves_as_owner_is_accepted(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        recruiter = await make_caller(session, "recruiter")
        body = {**await _candidate_body(session), "owner_id": recruiter.user_id}
        await session.commit()

        response = await client.post("/v1/candidates", json=body, headers=recruiter.headers)

        assert response.status_code == 201, response.text
        assert _body(response)["owner_id"] == recruiter.user_id

    async def test_recruiter_giving_another_users_owner_id_is_forbidden(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        recruiter = await make_caller(session, "recruiter")
        admin = await make_caller(session, "admin")
        body = await _candidate_body(session)  # owner_id: another recruiter
        await session.commit()

        response = await client.post("/v1/candidates", json=body, headers=recruiter.headers)

        _assert_problem(response, 403)
        assert await _list_ids(client, admin, "candidates") == []

    async def test_integration_without_owner_id_is_refused__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        ats = await make_caller(session, "integration")
        body = await _candidate_body(session)
        del body["owner_id"]
        await session.commit()

        response = await client.post("/v1/candidates", json=body, headers=ats.headers)

        _assert_problem(response, 422)
        assert "body.owner_id" in _fields(response)
        assert await _list_ids(client, ats, "candidates") == []

    async def test_integration_naming_an_unknown_owner_is_refused__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        ats = await make_caller(session, "integration")
        body = {**await _candidate_body(session), "owner_id": 987_654_321}
        await session.commit()

        response = await client.post("/v1/candidates", json=body, headers=ats.headers)

        _assert_problem(response, 422)
        assert "body.owner_id" in _fields(response)

    async def test_recruiter_cannot_see_another_recruiters_candidate(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        recruiter = await make_caller(session, "recruiter")
        other = await make_candidate(session)
        await session.commit()

        response = await client.get(f"/v1/candidates/{other.id}", headers=recruiter.headers)

        _assert_problem(response, 404)
        assert await _list_ids(client, recruiter, "candidates") == []

    async def test_recruiter_cannot_reassign_their_candidate(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        recruiter = await make_caller(session, "recruiter")
        colleague = _id(await make_user(session))
        mine = await make_candidate(session, owner_id=recruiter.user_id)
        await session.commit()

        response = await client.patch(
            f"/v1/candidates/{mine.id}", json={"owner_id": colleague}, headers=recruiter.headers
        )

        _assert_problem(response, 403)
        read = await client.get(f"/v1/candidates/{mine.id}", headers=recruiter.headers)
        assert _body(read)["owner_id"] == recruiter.user_id


# --- instants ----------------------------------------------------------------------------------


class TestInstantsAreAnsweredInUtc:
    async def test_interview_times_given_with_an_offset_are_answered_in_utc__R_BT(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        submission = await make_submission(session)
        await session.commit()
        plus_two = timezone(timedelta(hours=2))
        start = _in_future().astimezone(plus_two)
        body = {
            "submission_id": submission.id,
            "kind": "video",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
        }

        created = await client.post("/v1/interviews", json=body, headers=admin.headers)

        assert created.status_code == 201, created.text
        record = _body(created)
        assert record["starts_at"] == start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        _assert_instants_in_utc(record)
        read = await client.get(f"/v1/interviews/{record['id']}", headers=admin.headers)
        _assert_instants_in_utc(_body(read))

    async def test_interview_times_patched_with_an_offset_are_answered_in_utc__R_BT(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        interview = await make_interview(session)
        await session.commit()
        minus_five = timezone(timedelta(hours=-5))
        start = _in_future(hours=72).astimezone(minus_five)
        change = {
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=45)).isoformat(),
        }

        response = await client.patch(
            f"/v1/interviews/{interview.id}", json=change, headers=admin.headers
        )

        assert response.status_code == 200, response.text
        _assert_instants_in_utc(_body(response))

    async def test_feedback_received_at_given_with_an_offset_is_answered_in_utc__R_BT(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        submission = await make_submission(session)
        await session.commit()
        received = (datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)).astimezone(
            timezone(timedelta(hours=9))
        )
        body = {
            "submission_id": submission.id,
            "decision": "advance",
            "received_at": received.isoformat(),
        }

        created = await client.post("/v1/feedback", json=body, headers=admin.headers)

        assert created.status_code == 201, created.text
        record = _body(created)
        assert record["received_at"] == received.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        _assert_instants_in_utc(record)

    async def test_feedback_received_in_the_future_is_refused__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        submission = await make_submission(session)
        await session.commit()
        body = {
            "submission_id": submission.id,
            "decision": "advance",
            "received_at": _in_future(hours=1).isoformat(),
        }

        response = await client.post("/v1/feedback", json=body, headers=admin.headers)

        _assert_problem(response, 422)
        assert "body.received_at" in _fields(response)
        assert await _list_ids(client, admin, "feedback", submission_id=_id(submission)) == []


# --- odd input never a 500 ---------------------------------------------------------------------


#: Past PostgreSQL's ``integer`` id columns (2**31 - 1) and past SQLite's 64-bit INTEGER.
HUGE_IDS = pytest.mark.parametrize("huge", [2**31, 2**64], ids=["over-int32", "over-int64"])


class TestIdsBeyondTheColumnRange:
    @by_kind
    @HUGE_IDS
    async def test_huge_id_in_the_path_is_a_4xx_not_a_500__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind, huge: int
    ) -> None:
        admin = await make_caller(session, "admin")
        await session.commit()

        response = await client.get(f"/v1/{kind.path}/{huge}", headers=admin.headers)

        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)

    @by_kind
    @HUGE_IDS
    async def test_cursor_with_a_huge_id_is_a_4xx_not_a_500__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, kind: Kind, huge: int
    ) -> None:
        admin = await make_caller(session, "admin")
        await session.commit()
        cursor = base64.urlsafe_b64encode(json.dumps({"a": huge}).encode()).decode().rstrip("=")

        response = await client.get(
            f"/v1/{kind.path}", params={"cursor": cursor}, headers=admin.headers
        )

        assert response.status_code < 500, response.text

    @HUGE_IDS
    async def test_huge_id_in_a_list_filter_is_a_4xx_not_a_500__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, huge: int
    ) -> None:
        admin = await make_caller(session, "admin")
        await session.commit()

        response = await client.get(
            "/v1/submissions", params={"candidate_id": huge}, headers=admin.headers
        )

        assert response.status_code < 500, response.text

    @HUGE_IDS
    async def test_huge_reference_in_a_body_is_refused_on_that_field__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, huge: int
    ) -> None:
        admin = await make_caller(session, "admin")
        job = await make_job(session)
        await session.commit()

        response = await client.post(
            "/v1/submissions",
            json={"candidate_id": huge, "job_id": job.id},
            headers=admin.headers,
        )

        _assert_problem(response, 422)
        assert "body.candidate_id" in _fields(response)


class TestNullForARequiredField:
    @pytest.mark.parametrize(
        ("path", "field"),
        [
            ("candidates", "first_name"),
            ("candidates", "email"),
            ("clients", "name"),
            ("contacts", "role"),
            ("jobs", "status"),
            ("interviews", "kind"),
            ("feedback", "decision"),
        ],
    )
    async def test_null_for_a_required_field_in_a_patch_is_refused__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, path: str, field: str
    ) -> None:
        admin = await make_caller(session, "admin")
        kind = next(k for k in KINDS if k.path == path)
        body = await kind.body(session)
        await session.commit()
        record = _body(await client.post(f"/v1/{path}", json=body, headers=admin.headers))

        response = await client.patch(
            f"/v1/{path}/{record['id']}", json={field: None}, headers=admin.headers
        )

        _assert_problem(response, 422)
        assert f"body.{field}" in _fields(response)
        read = _body(await client.get(f"/v1/{path}/{record['id']}", headers=admin.headers))
        assert read == record
