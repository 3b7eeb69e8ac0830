"""Admins reword status sections; previews show what a candidate would get (R-CAND-1, R-CAND-6)."""

from __future__ import annotations

import httpx
import pytest
from jinja2 import TemplateError
from sqlalchemy.ext.asyncio import AsyncSession

from app.messaging.render import MAX_SECTION_CHARS, Section
from tests.support.agency import submit, us_agency

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


#: Each makes far more than MAX_SECTION_CHARS, each in a different way.
EXPANDING = [
    "{{ 'ab' * 5000000 }} {{ next_date }}",
    "{{ 5000000 * 'ab' }} {{ next_date }}",
    "{{ ['ab'] * 5000000 }} {{ next_date }}",
    "{{ 'a'|center(100000000) }} {{ next_date }}",
    "{{ 'a'.ljust(100000000) }} {{ next_date }}",
    "{{ '%100000000s' % 'a' }} {{ next_date }}",
    "{{ '{:>100000000}'.format('a') }} {{ next_date }}",
    "{{ 10 ** 100000000 }} {{ next_date }}",
    "{% for i in range(100000) %}{{ detail }}{% endfor %} {{ next_date }}",
    "{% for i in range(100000) %}{% for j in range(100) %}x{% endfor %}{% endfor %}{{ next_date }}",
]


class TestOutputBound:
    @pytest.mark.parametrize("body", EXPANDING)
    async def test_a_template_whose_preview_exceeds_the_bound_is_refused_when_saved__R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession, body: str
    ) -> None:
        agency = await us_agency(client, session)
        response = await client.put(
            "/v1/templates/no_news", json={"body": body}, headers=agency.admin.headers
        )
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["field"] == "body.body"
        assert f"exceed {MAX_SECTION_CHARS} characters" in error["message"]
        listed = await client.get("/v1/templates", headers=agency.admin.headers)
        assert not next(t for t in listed.json() if t["kind"] == "no_news")["overridden"]

    @pytest.mark.parametrize("body", EXPANDING)
    def test_a_stored_template_past_the_bound_falls_back_to_the_default_wording__R_IN(
        self, body: str
    ) -> None:
        """A template stored before the bound existed (or whose output grows with the data, such
        as a long feedback summary repeated) is bounded when an email is rendered too."""
        section = Section(kind="no_news", job_title="Dev", client_name="Acme", detail="d" * 100)
        text = section.render(body)
        assert text == section.render(None)
        assert len(text) < 1000

    def test_the_bound_leaves_room_for_the_longest_summary__R_IN(self) -> None:
        summary = "s" * 20_000  # a shareable feedback summary's maximum (LongText)
        section = Section(kind="feedback_shared", job_title="Dev", client_name="A", detail=summary)
        assert summary in section.render("{{ detail }} {{ link }}")
        with pytest.raises(TemplateError):
            section.render_strictly("{{ detail }}{{ detail }}{{ detail }}")
