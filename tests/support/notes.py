"""Set-up for thank-you note scenarios: a held interview with interviewers of every contact
policy, the SendGrid stand-in, and reading private links out of delivered emails."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from app.core import clock
from tests.support.agency import Agency, at

SENTINEL = "SENTINEL-internal-7c2d"
NOTE_LINK = re.compile(r"write them a short note here: \S*/v1/portal/([A-Za-z0-9_-]+)")
ANY_LINK = re.compile(r"/v1/portal/([A-Za-z0-9_-]{20,})")
GOOD_NOTE = (
    "Dear Hana,\n\nThank you for meeting me on Tuesday. I enjoyed hearing about the data "
    "platform, and I am very interested in the role.\n\nBest regards,\nSam"
)


@dataclass
class Interviewed:
    submission_id: int
    interview_id: int
    contacts: dict[str, int]  # name -> contact id


async def post_ok(client: httpx.AsyncClient, path: str, body: Any, headers: Any) -> Any:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def add_contact(client: httpx.AsyncClient, agency: Agency, name: str, **fields: Any) -> int:
    email = f"{name.split()[0].lower()}@acme.example"
    row = await post_ok(
        client,
        "/v1/contacts",
        {
            "client_id": agency.client_id,
            "name": name,
            "email": email,
            "role": "interviewer",
            "time_zone": "America/New_York",
            **fields,
        },
        agency.admin.headers,
    )
    contact_id: int = row["id"]
    return contact_id


async def held_interview(
    client: httpx.AsyncClient,
    agency: Agency,
    submission_id: int,
    *,
    interviewer_ids: list[int],
    starts: str = "2026-11-10T15:00:00Z",
    ends: str = "2026-11-10T16:00:00Z",
    held_at: str = "2026-11-10T16:30:00Z",
) -> int:
    """An interview scheduled, then marked held at ``held_at`` (the invitation's trigger)."""
    interview = await post_ok(
        client,
        "/v1/interviews",
        {
            "submission_id": submission_id,
            "kind": "video",
            "starts_at": starts,
            "ends_at": ends,
            "interviewer_ids": interviewer_ids,
        },
        agency.admin.headers,
    )
    with clock.at(at(held_at)):
        marked = await client.patch(
            f"/v1/interviews/{interview['id']}",
            json={"status": "held"},
            headers=agency.recruiter.headers,
        )
    assert marked.status_code == 200, marked.text
    interview_id: int = interview["id"]
    return interview_id


async def note_link(client: httpx.AsyncClient, agency: Agency, interview_id: int, now: str) -> str:
    """A note link made by the recruiter (as the invitation would carry): its token."""
    with clock.at(at(now)):
        made = await post_ok(
            client,
            f"/v1/candidates/{agency.candidate_id}/links",
            {"interview_id": interview_id},
            agency.recruiter.headers,
        )
    match = ANY_LINK.search(made["url"])
    assert match is not None
    return match.group(1)


async def write(client: httpx.AsyncClient, token: str, text: str, now: str) -> httpx.Response:
    with clock.at(at(now)):
        return await client.post(f"/v1/portal/{token}/note", json={"text": text})


async def review(
    client: httpx.AsyncClient, agency: Agency, note_id: int, action: str, body: Any, now: str
) -> Any:
    with clock.at(at(now)):
        return await post_ok(
            client, f"/v1/notes/{note_id}/{action}", body, agency.recruiter.headers
        )


async def the_note(client: httpx.AsyncClient, agency: Agency, interview_id: int) -> Any:
    listed = await client.get(
        "/v1/notes", params={"interview_id": interview_id}, headers=agency.recruiter.headers
    )
    assert listed.status_code == 200, listed.text
    [note] = listed.json()["items"]
    return note


async def allow_nudges(client: httpx.AsyncClient, agency: Agency, allowed: bool = True) -> None:
    response = await client.patch(
        f"/v1/clients/{agency.client_id}",
        json={"allow_automated_nudges": allowed},
        headers=agency.admin.headers,
    )
    assert response.status_code == 200, response.text
