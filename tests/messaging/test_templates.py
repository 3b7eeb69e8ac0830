"""Admins reword status sections; previews show what a candidate would get (R-CAND-1, R-CAND-6)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.sla.helpers import submit, us_agency

SENTINEL = "SENTINEL-internal-7c1d"


class TestOverrides:
    async def test_an_override_is_used_and_can_be_restored(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, "2026-11-02T15:00:00Z")
        wording = (
            "Still waiting on {{ client_name }} for {{ job_title }}. Next news by {{ next_date }}."
        )
        put = await client.put(
            "/v1/templates/no_news", json={"body": wording}, headers=agency.admin.headers
        )
        assert put.status_code == 200 and put.json()["overridden"] is True
        preview = await client.post(
            "/v1/templates/no_news/preview",
            json={"submission_id": sid},
            headers=agency.recruiter.headers,
        )
        assert preview.status_code == 200, preview.text
        assert "Still waiting on Acme for Data Engineer. Next news by" in preview.json()["text"]
        assert "Still waiting on Acme" in preview.json()["html"]
        restored = await client.delete("/v1/templates/no_news", headers=agency.admin.headers)
        assert restored.status_code == 204
        listed = await client.get("/v1/templates", headers=agency.recruiter.headers)
        no_news = next(t for t in listed.json() if t["kind"] == "no_news")
        assert no_news["overridden"] is False and "no decision yet" in no_news["body"]

    @pytest.mark.parametrize(
        "body",
        [
            "No news yet for {{ job_title }}.",  # promises nothing (R-CAND-1)
            "{{ job_title ",  # does not compile
            "{{ salary }} by {{ next_date }}",  # unknown field
            "{{ ''.__class__.__mro__ }} {{ next_date }}",  # sandbox refuses
        ],
    )
    async def test_a_template_that_breaks_the_rules_is_refused__R_CAND_1_R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, body: str
    ) -> None:
        agency = await us_agency(client, session)
        response = await client.put(
            "/v1/templates/no_news", json={"body": body}, headers=agency.admin.headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "body.body"

    async def test_recruiters_cannot_reword_templates(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        response = await client.put(
            "/v1/templates/no_news",
            json={"body": "x {{ next_date }}"},
            headers=agency.recruiter.headers,
        )
        assert response.status_code == 403


class TestPreview:
    async def test_a_confidential_client_and_internal_notes_never_show__R_CAND_6(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        hidden = await client.patch(
            f"/v1/clients/{agency.client_id}",
            json={"confidential": True},
            headers=agency.admin.headers,
        )
        assert hidden.status_code == 200
        sid = await submit(client, agency, "2026-11-02T15:00:00Z")
        noted = await client.post(
            "/v1/feedback",
            json={
                "submission_id": sid,
                "decision": "hold",
                "internal_notes": SENTINEL,
                "shareable_summary": SENTINEL,
                "received_at": "2026-11-03T15:00:00Z",
            },
            headers=agency.admin.headers,
        )
        assert noted.status_code == 201
        for kind in ("submitted", "no_news", "rejected", "closed", "offer", "interview_held"):
            preview = await client.post(
                f"/v1/templates/{kind}/preview",
                json={"submission_id": sid},
                headers=agency.recruiter.headers,
            )
            assert preview.status_code == 200, preview.text
            everything = str(preview.json())
            assert "Acme" not in everything and "our client" in everything
            assert SENTINEL not in everything
