"""R-IN, R-CAND-5: a malformed event in a signed SendGrid batch is recorded (counted, and named by
its position and field in the answer) and skipped; the good events of the same batch are applied,
so SendGrid's retries of a batch never hold back the bounces that came with a bad event.

Generated over every field Candor reads from an event and one representative value per class:
NUL, other C0/C1 controls, line breaks, bidi controls, a wrong JSON type, an oversized string.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.messaging.backends import CUSTOM_ARG
from app.messaging.models import MessageEvent, MessageState, Suppression
from tests.integrations.test_sendgrid_events import Hook, event, reload, sent_message
from tests.support.database import row_counts

#: One value per class of bad text.
BAD_TEXT = {
    "nul": "a\x00b",
    "c0": "a\x1bb",
    "c1": "a\x85b",
    "del": "a\x7fb",
    "line-break": "a\r\nb",
    "bidi": "a\u202eb",
}
#: Each field Candor reads, its bad values, and whether the event is refused (else ignored: a
#: kind Candor does not handle is never read further).
FIELDS: dict[str, tuple[dict[str, Any], bool]] = {
    "sg_event_id": (
        {**BAD_TEXT, "number": 7, "null": None, "empty": "", "long": "e" * 101},
        True,
    ),
    CUSTOM_ARG: ({**BAD_TEXT, "list": [1], "float": 1.5, "object": {}}, True),
    "email": (
        {
            **{k: f"x{v}@example.org" for k, v in BAD_TEXT.items()},
            "number": 1,
            "long": "a" * 320 + "@x.org",
        },
        True,
    ),
    "timestamp": ({"text": "1700000000\x00", "list": [1], "bool": True}, True),
    "status": ({**BAD_TEXT, "number": 5}, True),
    "event": ({**BAD_TEXT, "number": 1}, False),
}
CASES = [
    pytest.param(field, value, refused, id=f"{field}-{name}")
    for field, (values, refused) in FIELDS.items()
    for name, value in values.items()
]


class TestABadEventIsSkippedAndTheRestApplied:
    @pytest.mark.parametrize(("field", "value", "refused"), CASES)
    async def test_mixed_batch__R_IN_R_CAND_5(
        self, hook: Hook, session: AsyncSession, field: str, value: Any, refused: bool
    ) -> None:
        delivered, bad, bounced = [await sent_message(session) for _ in range(3)]
        await session.commit()
        bad_event = event("bounce", bad, "ev-bad", email="bad@example.org", status="5.1.1")
        bad_event[field] = value
        batch = [
            event("delivered", delivered, "ev-good-1"),
            bad_event,
            event("bounce", bounced, "ev-good-2", email=bounced.recipient_email, status="5.1.1"),
        ]
        before = await row_counts(session)

        response = await hook.post(batch)

        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["applied"] == 2
        assert answer["received"] == 3 and answer["duplicates"] == 0
        if refused:
            assert answer["refused"] == 1 and answer["ignored"] == 0
            [refusal] = answer["refusals"]
            assert refusal["index"] == 1 and refusal["field"] == field
        else:
            assert answer["ignored"] == 1 and answer["refused"] == 0
        assert (await reload(session, delivered)).state == MessageState.delivered
        assert (await reload(session, bounced)).state == MessageState.failed
        assert (await reload(session, bad)).state == MessageState.sent  # the bad event: skipped
        touched = await session.scalar(
            select(func.count()).where(col(MessageEvent.message_id) == bad.id)
        )
        assert touched == 0
        assert await session.get(Suppression, "bad@example.org") is None
        after = await row_counts(session)
        assert after["message_event"] == before["message_event"] + 2

    async def test_a_batch_of_bad_events_only_changes_nothing__R_IN(
        self, hook: Hook, session: AsyncSession
    ) -> None:
        message = await sent_message(session)
        await session.commit()
        batch = []
        for n, (field, (values, _)) in enumerate(FIELDS.items()):
            bad = event("bounce", message, f"ev-{n}", email="bad@example.org")
            bad[field] = next(iter(values.values()))
            batch.append(bad)
        before = await row_counts(session)
        response = await hook.post(batch)
        assert response.status_code == 200, response.text
        assert response.json()["applied"] == 0
        assert await row_counts(session) == before
        assert (await reload(session, message)).state == MessageState.sent
