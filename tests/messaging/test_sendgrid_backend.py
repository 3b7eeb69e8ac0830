"""The SendGrid backend against the real local stand-in, over HTTP on loopback: what each answer
of the provider becomes (sent, retried later, failed for good), and what the request carries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.messaging.backends import (
    CUSTOM_ARG,
    OutgoingEmail,
    PermanentFailure,
    SendGridBackend,
    TransientFailure,
)
from tests.support.mailing import KEY
from tools.sendgrid_standin import SendGridStandIn


def email(**overrides: object) -> OutgoingEmail:
    fields: dict[str, object] = {
        "message_id": 4242,
        "to": "jane.doe@example.com",
        "subject": "Update on the Data Engineer role",
        "text": "Hello Jane,\nno news yet.\n",
        "html": "<p>Hello Jane,</p><p>no news yet.</p>",
        "from_email": "updates@agency.example",
        "from_name": "Your recruitment team",
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def backend(standin: SendGridStandIn) -> AsyncIterator[SendGridBackend]:
    sendgrid = SendGridBackend(api_key=KEY, base_url=standin.base_url, sandbox=False, timeout=2)
    try:
        yield sendgrid
    finally:
        await sendgrid.aclose()


class TestAcceptedEmails:
    async def test_a_202_answers_the_provider_message_id__R_CAND(
        self, backend: SendGridBackend, standin: SendGridStandIn
    ) -> None:
        provider_id = await backend.send(email())
        [mail] = standin.accepted
        assert provider_id == mail.message_id and provider_id
        assert mail.to == ["jane.doe@example.com"]
        assert mail.from_email == "updates@agency.example"
        assert mail.subject == "Update on the Data Engineer role"
        assert mail.text == "Hello Jane,\nno news yet.\n"
        assert mail.html == "<p>Hello Jane,</p><p>no news yet.</p>"
        assert not mail.sandboxed

    async def test_custom_args_carry_the_message_id_and_nothing_personal__R_PV(
        self, backend: SendGridBackend, standin: SendGridStandIn
    ) -> None:
        await backend.send(email())
        [mail] = standin.accepted
        assert mail.custom_args == {CUSTOM_ARG: "4242"}

    async def test_cc_and_reply_to_reach_the_provider__R_TY_5(
        self, backend: SendGridBackend, standin: SendGridStandIn
    ) -> None:
        await backend.send(email(cc=("rita@agency.example",), reply_to="rita@agency.example"))
        [mail] = standin.accepted
        assert mail.cc == ["rita@agency.example"]
        assert mail.payload["reply_to"] == {"email": "rita@agency.example"}

    async def test_sandbox_mode_is_validated_not_delivered(self, standin: SendGridStandIn) -> None:
        sandboxed = SendGridBackend(api_key=KEY, base_url=standin.base_url, sandbox=True, timeout=2)
        try:
            await sandboxed.send(email())
        finally:
            await sandboxed.aclose()
        [mail] = standin.accepted
        assert mail.sandboxed and standin.delivered == []

    async def test_one_backend_sends_many_emails_at_once(
        self, backend: SendGridBackend, standin: SendGridStandIn
    ) -> None:
        import asyncio

        await asyncio.gather(*(backend.send(email(message_id=n)) for n in range(40)))
        assert sorted(int(m.custom_args[CUSTOM_ARG]) for m in standin.accepted) == list(range(40))


class TestRefusedEmails:
    async def test_a_429_is_retried_after_the_retry_after_seconds__R_CAND(
        self, backend: SendGridBackend, standin: SendGridStandIn
    ) -> None:
        standin.fail_next(status=429, retry_after=120)
        with pytest.raises(TransientFailure) as raised:
            await backend.send(email())
        assert raised.value.retry_after == 120.0
        assert standin.accepted == []

    async def test_a_429_without_retry_after_leaves_the_delay_to_the_backoff(
        self, backend: SendGridBackend, standin: SendGridStandIn
    ) -> None:
        standin.fail_next(status=429)
        with pytest.raises(TransientFailure) as raised:
            await backend.send(email())
        assert raised.value.retry_after is None

    async def test_a_5xx_is_retried(
        self, backend: SendGridBackend, standin: SendGridStandIn
    ) -> None:
        standin.fail_next(status=500)
        with pytest.raises(TransientFailure, match="500"):
            await backend.send(email())
        standin.fail_next(status=503)
        with pytest.raises(TransientFailure, match="503"):
            await backend.send(email())

    async def test_a_400_fails_for_good_naming_the_providers_reason(
        self, backend: SendGridBackend, standin: SendGridStandIn
    ) -> None:
        with pytest.raises(PermanentFailure) as raised:
            await backend.send(email(to="jane@localhost"))
        assert raised.value.reason.startswith("400: ")
        assert raised.value.reason == "400: Does not contain a valid address."

    async def test_a_wrong_key_fails_for_good(self, standin: SendGridStandIn) -> None:
        wrong = SendGridBackend(
            api_key="SG.wrong", base_url=standin.base_url, sandbox=False, timeout=2
        )
        try:
            with pytest.raises(PermanentFailure, match=r"^401"):
                await wrong.send(email())
        finally:
            await wrong.aclose()

    async def test_a_hanging_provider_times_out_and_is_retried(
        self, standin: SendGridStandIn
    ) -> None:
        """A timeout does not mean the email was refused: the stand-in accepts it after the
        client gave up, and the retry is what makes delivery at-least-once."""
        hasty = SendGridBackend(api_key=KEY, base_url=standin.base_url, sandbox=False, timeout=0.2)
        standin.hang_next(1, seconds=1.0)
        try:
            with pytest.raises(TransientFailure, match="network"):
                await hasty.send(email())
        finally:
            await hasty.aclose()

    async def test_nobody_listening_is_retried(self, standin: SendGridStandIn) -> None:
        nowhere = SendGridBackend(
            api_key=KEY, base_url="http://127.0.0.1:9", sandbox=False, timeout=2
        )
        try:
            with pytest.raises(TransientFailure, match="network"):
                await nowhere.send(email())
        finally:
            await nowhere.aclose()
