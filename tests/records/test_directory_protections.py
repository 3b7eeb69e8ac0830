"""The shared directory's protections are changed only by admins and integrations (R-PV).

Every recruiter reads clients and contacts, and may correct a name or a phone number; lifting a
client's ``confidential`` flag or a contact's policy or do-not-chase wish affects every
recruiter's candidates, so a recruiter's attempt answers 403 problem+json naming the field, and
nothing changes. The cases are generated over every protected field and every value it can take.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.models import Client, Contact, ContactPolicy
from app.clients.service import CLIENT_PROTECTIONS, CONTACT_PROTECTIONS
from tests.support.factories import make_caller, make_client, make_contact


@dataclass(frozen=True)
class Case:
    resource: str  # "clients" or "contacts"
    field: str
    start: object
    to: object

    def __str__(self) -> str:
        return f"{self.resource}.{self.field}:{self.start}->{self.to}"


def _values(field: str) -> list[object]:
    if field == "contact_policy":
        return [p.value for p in ContactPolicy]
    return [True, False]


CASES = [
    Case(resource, field, start, to)
    for resource, fields in (("clients", CLIENT_PROTECTIONS), ("contacts", CONTACT_PROTECTIONS))
    for field in fields
    for start in _values(field)
    for to in _values(field)
    if start != to
]


def test_the_protections_are_the_ones_the_rule_names__R_PV() -> None:
    # The generated cases are only as good as the lists they come from.
    assert set(CLIENT_PROTECTIONS) == {"confidential"}
    assert set(CONTACT_PROTECTIONS) == {"contact_policy", "no_chase"}
    assert len(CASES) == 2 + 6 + 2


async def _record(session: AsyncSession, case: Case) -> Client | Contact:
    if case.resource == "clients":
        return await make_client(session, **{case.field: case.start})
    return await make_contact(session, **{case.field: case.start})


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_a_recruiter_cannot_change_a_protection__R_PV(
    client: httpx.AsyncClient, session: AsyncSession, case: Case
) -> None:
    record = await _record(session, case)
    recruiter = await make_caller(session, "recruiter")
    await session.commit()
    url = f"/v1/{case.resource}/{record.id}"
    response = await client.patch(
        url, json={case.field: case.to, "name": "Renamed"}, headers=recruiter.headers
    )
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert case.field in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == [f"body.{case.field}"]
    after = (await client.get(url, headers=recruiter.headers)).json()
    assert (after[case.field], after["name"]) == (case.start, record.name)


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("role", ["admin", "integration"])
async def test_admins_and_integrations_change_a_protection__R_PV(
    client: httpx.AsyncClient, session: AsyncSession, case: Case, role: str
) -> None:
    record = await _record(session, case)
    caller = await make_caller(session, role)
    await session.commit()
    url = f"/v1/{case.resource}/{record.id}"
    response = await client.patch(url, json={case.field: case.to}, headers=caller.headers)
    assert response.status_code == 200, response.text
    assert (await client.get(url, headers=caller.headers)).json()[case.field] == case.to


@pytest.mark.parametrize("case", CASES[:: len(CASES) // 3], ids=str)
async def test_a_recruiter_still_edits_the_rest_and_may_resend_a_protection__R_PV(
    client: httpx.AsyncClient, session: AsyncSession, case: Case
) -> None:
    record = await _record(session, case)
    recruiter = await make_caller(session, "recruiter")
    await session.commit()
    url = f"/v1/{case.resource}/{record.id}"
    response = await client.patch(
        url, json={case.field: case.start, "name": "Renamed"}, headers=recruiter.headers
    )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()[case.field]) == ("Renamed", case.start)


@pytest.mark.parametrize("resource", ["clients", "contacts"])
async def test_a_recruiter_cannot_upsert_the_directory_by_external_id__R_PV(
    client: httpx.AsyncClient, session: AsyncSession, resource: str
) -> None:
    """The ATS upsert could rewrite every field at once: not a recruiter's operation."""
    if resource == "clients":
        record: Client | Contact = await make_client(
            session, confidential=True, external_id="dir-1"
        )
        body: dict[str, object] = {"name": "Acme", "confidential": False}
    else:
        record = await make_contact(session, contact_policy="do_not_contact", external_id="dir-1")
        body = {
            "name": "Pat",
            "client_id": record.client_id,
            "role": "hiring_manager",
            "contact_policy": "open",
        }
    recruiter = await make_caller(session, "recruiter")
    await session.commit()
    response = await client.put(
        f"/v1/{resource}/by-external-id/dir-1", json=body, headers=recruiter.headers
    )
    assert response.status_code == 403, response.text
    after = (await client.get(f"/v1/{resource}/{record.id}", headers=recruiter.headers)).json()
    protected = "confidential" if resource == "clients" else "contact_policy"
    assert after[protected] == getattr(record, protected)
