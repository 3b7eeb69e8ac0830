"""Events and provider metadata carry no personal data (R-PV): the audit trail names what
changed, never the values, so it can be shared with integrations and survives erasure."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import Event
from tests.support.factories import make_caller

PERSONAL = ["Zelda", "Quartermaine", "zelda.q@mail.example", "+1 555 0199"]


async def test_candidate_events_name_fields_not_values__R_PV(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await make_caller(session, "admin")
    await session.commit()
    created = await client.post(
        "/v1/candidates",
        json={
            "first_name": "Zelda",
            "last_name": "Quartermaine",
            "email": "zelda.q@mail.example",
            "phone": "+1 555 0199",
            "owner_id": admin.user_id,
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    changed = await client.patch(
        f"/v1/candidates/{cid}", json={"phone": "+1 555 0100"}, headers=admin.headers
    )
    assert changed.status_code == 200
    events = list((await session.execute(select(Event))).scalars())
    mine = [e for e in events if e.record_type == "candidate" and e.record_id == cid]
    assert [e.action for e in mine] == ["candidate.created", "candidate.updated"]
    assert mine[1].data == {"fields": ["phone"]}
    everything = str([(e.action, e.data) for e in events])
    for value in [*PERSONAL, "+1 555 0100"]:
        assert value not in everything
