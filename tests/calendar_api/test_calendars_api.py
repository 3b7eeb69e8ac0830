"""Calendars over the API (R-BT): admin-managed, and business days an integration can compute."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.factories import Caller, make_caller

US = {"name": "US East", "time_zone": "America/New_York", "country": "US"}


async def _create(client: httpx.AsyncClient, admin: Caller, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/calendars", json={**US, **body}, headers=admin.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class TestAddBusinessDays:
    @pytest.mark.parametrize(
        ("start", "days", "expected"),
        [
            # Wed 25 Nov 2026 16:00 EST + 1: Thanksgiving is closed, so Fri 27 Nov 16:00.
            ("2026-11-25T21:00:00Z", 1, "2026-11-27T21:00:00Z"),
            # Friday after closing normalises to Monday's opening, + 2 = Wednesday 09:00.
            ("2026-12-04T22:30:00Z", 2, "2026-12-09T14:00:00Z"),
            # Offsets are accepted and the answer is UTC; 0 days is the normalised instant.
            ("2026-12-05T10:00:00-05:00", 0, "2026-12-07T14:00:00Z"),
        ],
    )
    async def test_answers_the_same_instant_candor_uses__R_BT(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        start: str,
        days: int,
        expected: str,
    ) -> None:
        integration = await make_caller(session, "integration")
        admin = await make_caller(session, "admin")
        await session.commit()
        calendar = await _create(client, admin)
        response = await client.get(
            f"/v1/calendars/{calendar['id']}/add-business-days",
            params={"start": start, "days": days},
            headers=integration.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["result"] == expected

    async def test_closures_and_removed_holidays_count__R_BT(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        await session.commit()
        # Closed on Fri 27 Nov; Thanksgiving removed from the list (a working day after all).
        calendar = await _create(
            client, admin, closures=["2026-11-27"], removed_holidays=["2026-11-26"]
        )
        response = await client.get(
            f"/v1/calendars/{calendar['id']}/add-business-days",
            params={"start": "2026-11-25T21:00:00Z", "days": 2},
            headers=admin.headers,
        )
        assert response.json()["result"] == "2026-11-30T21:00:00Z"

    @pytest.mark.parametrize(
        "params",
        [
            {"start": "2026-11-25T21:00:00", "days": 1},  # no offset
            {"start": "2026-11-25T21:00:00Z", "days": -1},
            {"start": "2026-11-25T21:00:00Z", "days": 100_000},
            {"start": "3000-01-01T00:00:00Z", "days": 1},  # beyond the supported years
            {"days": 1},
        ],
    )
    async def test_bad_queries_are_422_problems__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, params: dict[str, Any]
    ) -> None:
        admin = await make_caller(session, "admin")
        await session.commit()
        calendar = await _create(client, admin)
        response = await client.get(
            f"/v1/calendars/{calendar['id']}/add-business-days",
            params=params,
            headers=admin.headers,
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"


class TestCalendarRecords:
    @pytest.mark.parametrize(
        "body",
        [
            {"time_zone": "Mars/Olympus"},
            {"country": "XX"},
            {"country": "US", "subdivision": "ZZ"},
            {"opens": "18:00:00", "closes": "09:00:00"},
            {"weekdays": []},
            {"weekdays": [7]},
        ],
    )
    async def test_inconsistent_calendars_are_refused__R_BT_R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, body: dict[str, Any]
    ) -> None:
        admin = await make_caller(session, "admin")
        await session.commit()
        response = await client.post("/v1/calendars", json={**US, **body}, headers=admin.headers)
        assert response.status_code == 422, response.text

    async def test_only_one_default_calendar_at_a_time__R_BT(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        await session.commit()
        first = await _create(client, admin, is_default=True)
        second = await _create(client, admin, name="UK", time_zone="Europe/London", country="GB")
        made = await client.patch(
            f"/v1/calendars/{second['id']}", json={"is_default": True}, headers=admin.headers
        )
        assert made.status_code == 200 and made.json()["is_default"] is True
        again = await client.get(f"/v1/calendars/{first['id']}", headers=admin.headers)
        assert again.json()["is_default"] is False

    async def test_an_update_that_breaks_the_calendar_is_refused_and_changes_nothing__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        await session.commit()
        calendar = await _create(client, admin)
        response = await client.patch(
            f"/v1/calendars/{calendar['id']}", json={"opens": "18:00:00"}, headers=admin.headers
        )
        assert response.status_code == 422
        same = await client.get(f"/v1/calendars/{calendar['id']}", headers=admin.headers)
        assert same.json()["opens"] == "09:00:00"

    async def test_recruiters_read_but_do_not_write_calendars(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        recruiter = await make_caller(session, "recruiter")
        await session.commit()
        denied = await client.post("/v1/calendars", json=US, headers=recruiter.headers)
        assert denied.status_code == 403
        listed = await client.get("/v1/calendars", headers=recruiter.headers)
        assert listed.status_code == 200
