"""R-IN: no header of any email carries a line break, whatever the backend, even when the words
that go into it were stored before input was validated (simulated here by writing CR/LF into the
database directly, past the API's validation).

A job title reaches the candidate's status email subject; a candidate's name reaches the client
contact's nudge subject; the recruiter's name reaches the nudge's sender name. Both emails go
through the `file` backend (JSON files read back) and through the `sendgrid` backend (the real
library to the local stand-in, whose received payloads are read back).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.auth.models import User
from app.candidates.models import Candidate
from app.jobs.models import Job
from app.messaging.backends import HEADER_FIELDS, FileBackend
from tests.support.agency import Agency, submit, us_agency, worker_once
from tests.support.mailing import Mailer
from tests.support.notes import allow_nudges
from tools.sendgrid_standin import SendGridStandIn

TITLE = "Dev\r\nBcc: evil@attacker.example"
FIRST = "Sam\nBcc: evil@attacker.example"
LAST = "Rivera\r\n\r\nInjected body"
RECRUITER = "Rita\u2028Reply-To: evil@attacker.example\x0b"  # PostgreSQL stores no NUL
#: Mon 9 Nov: the first checks fire at 10:00 EST (15:00Z); Hana's nudge slot is 10:00 CST
#: (16:00Z); the candidate's status email slot is 16:00 EST (21:00Z).
STEPS = ("2026-11-09T15:00:00Z", "2026-11-09T16:00:00Z", "2026-11-09T21:00:00Z")
LINE_BREAKS = ("\r", "\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x00")


async def old_data_with_line_breaks(client: httpx.AsyncClient, session: AsyncSession) -> Agency:
    """A waiting submission whose job title, candidate and recruiter names hold line breaks."""
    agency = await us_agency(client, session)
    await allow_nudges(client, agency)
    await submit(client, agency, "2026-11-02T15:00:00Z")
    await session.execute(update(Job).where(Job.id == agency.job_id).values(title=TITLE))  # type: ignore[arg-type]
    await session.execute(
        update(Candidate)
        .where(Candidate.id == agency.candidate_id)  # type: ignore[arg-type]
        .values(first_name=FIRST, last_name=LAST)
    )
    await session.execute(
        update(User).where(User.id == agency.recruiter.user_id).values(name=RECRUITER)  # type: ignore[arg-type]
    )
    await session.commit()
    return agency


def assert_single_line(headers: dict[str, Any]) -> None:
    for name, value in headers.items():
        for text in value if isinstance(value, list) else [value]:
            assert not any(c in str(text) for c in LINE_BREAKS), (name, text)


def assert_reached(subjects: list[str]) -> None:
    """The words did reach the headers (else the check above proves nothing)."""
    assert any(
        "Bcc: evil@attacker.example" in s and s.startswith("Update on the Dev") for s in subjects
    )
    assert any(s.startswith("Your decision on Sam") and "Rivera" in s for s in subjects)


def read_emails(folder: Path) -> list[dict[str, Any]]:
    """What the file backend wrote, one JSON object per email."""
    return [json.loads(f.read_text("utf-8")) for f in sorted(folder.glob("message-*.json"))]


class TestNoHeaderCarriesALineBreak:
    async def test_file_backend_headers_are_single_line__R_IN(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        connection: AsyncConnection,
        tmp_path: Path,
    ) -> None:
        await old_data_with_line_breaks(client, session)
        for now in STEPS:
            await worker_once(connection, now, backend=FileBackend(tmp_path))
        emails = read_emails(tmp_path)
        assert len(emails) >= 2
        for email in emails:
            assert_single_line({name: email[name] for name in (*HEADER_FIELDS, "cc")})
        assert_reached([email["subject"] for email in emails])
        nudge = next(e for e in emails if e["subject"].startswith("Your decision"))
        assert nudge["from_name"].startswith("Rita Reply-To: evil@attacker.example")

    async def test_sendgrid_backend_headers_are_single_line__R_IN(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        await old_data_with_line_breaks(client, session)
        for now in STEPS:
            await mailer.step(now)
        assert len(standin.accepted) >= 2
        for mail in standin.accepted:
            payload = mail.payload
            headers: dict[str, Any] = {
                "subject": payload.get("subject"),
                "from": list(payload["from"].values()),
                "reply_to": list(payload.get("reply_to", {}).values()),
                "headers": [f"{k}: {v}" for k, v in payload.get("headers", {}).items()],
            }
            for index, envelope in enumerate(mail.personalizations):
                headers[f"subject_{index}"] = mail.subject_for(index) or ""
                for kind in ("to", "cc", "bcc"):
                    headers[f"{kind}_{index}"] = [
                        v for address in envelope.get(kind, []) for v in address.values()
                    ]
            assert_single_line(headers)
            assert "evil@attacker.example" not in mail.recipients
        assert_reached([mail.subject or "" for mail in standin.accepted])


@pytest.mark.parametrize("value", LINE_BREAKS)
def test_every_header_field_is_made_single_line__R_IN(value: str) -> None:
    from app.messaging.backends import OutgoingEmail

    text = f"a{value}b"
    email = OutgoingEmail(
        message_id=1,
        to=f"x{value}@example.com",
        subject=text,
        text=text,
        html=text,
        from_email=text,
        from_name=text,
        cc=(text,),
        reply_to=text,
    )
    assert_single_line({name: getattr(email, name) for name in (*HEADER_FIELDS, "cc")})
    assert email.text == text and email.html == text  # bodies keep their lines
