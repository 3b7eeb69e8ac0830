"""The SendGrid stand-in answers the real ``sendgrid`` client as SendGrid's v3 Mail Send does.

Every request here goes over real HTTP on loopback, through ``SendGridAPIClient`` (or httpx
where the test needs a client-side timeout or a raw request), so what passes here is what our
delivery backend will meet: the documented 202/200/400/401/413 answers and their error shape,
plus the 429/5xx/hang faults that retries and timeouts must survive.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from python_http_client.exceptions import (
    HTTPError,
    InternalServerError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    TooManyRequestsError,
    UnauthorizedError,
)
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Bcc,
    Category,
    Cc,
    Content,
    CustomArg,
    From,
    Mail,
    MailSettings,
    Personalization,
    SandBoxMode,
    To,
)

from tools.sendgrid_standin import (
    MAX_MESSAGE_BYTES,
    AcceptedMail,
    SendGridStandIn,
    validate_mail_send,
)

API_KEY = "SG.candor-test.standin-key"
SENDER = "recruiting@candor.example"


@pytest.fixture(scope="module")
def server() -> Iterator[SendGridStandIn]:
    """One listening stand-in for the module: starting and stopping costs a few tenths of a s."""
    with SendGridStandIn(API_KEY) as standin:
        yield standin


@pytest.fixture
def standin(server: SendGridStandIn) -> SendGridStandIn:
    """The shared stand-in with nothing recorded and no fault planned."""
    server.reset()
    return server


@pytest.fixture
def client(standin: SendGridStandIn) -> Any:
    """The real SendGrid client, pointed at the stand-in."""
    return SendGridAPIClient(API_KEY, host=standin.base_url)


def simple_mail(**overrides: Any) -> Mail:
    """A mail SendGrid accepts: one recipient, a subject, a text and an HTML body."""
    fields: dict[str, Any] = {
        "from_email": From(SENDER, "Candor Recruiting"),
        "to_emails": To("jane.doe@example.com", "Jane Doe"),
        "subject": "Thank you for interviewing",
        "plain_text_content": "Thank you, Jane.",
        "html_content": "<p>Thank you, Jane.</p>",
    }
    fields.update(overrides)
    return Mail(**fields)


def refusal(client: Any, mail: Mail | dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """Send a mail that must be refused; its status and SendGrid's ``errors`` list."""
    with pytest.raises(HTTPError) as caught:
        client.send(mail)
    body = caught.value.to_dict
    assert set(body) == {"errors"}
    return caught.value.status_code, body["errors"]


def fields_of(errors: list[dict[str, Any]]) -> list[str | None]:
    return [error["field"] for error in errors]


class TestAcceptedMail:
    def test_accepted_mail_answers_202_empty_with_message_id_and_is_recorded(
        self, standin: SendGridStandIn, client: Any
    ) -> None:
        mail = Mail(from_email=From(SENDER, "Candor Recruiting"), subject="Your interview")
        envelope = Personalization()
        envelope.add_to(To("jane.doe@example.com", "Jane Doe"))
        envelope.add_cc(Cc("recruiter@candor.example"))
        envelope.add_bcc(Bcc("archive@candor.example"))
        envelope.add_custom_arg(CustomArg("submission_id", "sub-42"))
        envelope.add_custom_arg(CustomArg("kind", "personal-override"))
        mail.add_personalization(envelope)
        mail.add_content(Content("text/html", "<p>See you Tuesday.</p>"))
        mail.add_content(Content("text/plain", "See you Tuesday."))
        mail.add_custom_arg(CustomArg("kind", "interview-reminder"))
        mail.add_custom_arg(CustomArg("outbox_id", "ob-7"))
        mail.add_category(Category("interviews"))

        response = client.send(mail)

        assert response.status_code == 202
        assert response.body == b""
        [accepted] = standin.accepted
        assert response.headers["X-Message-Id"] == accepted.message_id
        assert accepted.to == ["jane.doe@example.com"]
        assert accepted.cc == ["recruiter@candor.example"]
        assert accepted.bcc == ["archive@candor.example"]
        assert accepted.recipients == [
            "jane.doe@example.com",
            "recruiter@candor.example",
            "archive@candor.example",
        ]
        assert accepted.from_email == SENDER
        assert accepted.subject == "Your interview"
        assert accepted.text == "See you Tuesday."
        assert accepted.html == "<p>See you Tuesday.</p>"
        # Personalization custom args override the message's on a shared key, as SendGrid merges.
        assert accepted.custom_args == {
            "kind": "personal-override",
            "outbox_id": "ob-7",
            "submission_id": "sub-42",
        }
        assert accepted.categories == ["interviews"]
        assert accepted.sandboxed is False
        assert standin.delivered == [accepted]
        assert standin.requests == 1

    def test_each_accepted_mail_gets_its_own_message_id(self, client: Any) -> None:
        first = client.send(simple_mail())
        second = client.send(simple_mail())

        assert first.headers["X-Message-Id"] != second.headers["X-Message-Id"]

    def test_personalization_subject_overrides_the_message_subject(
        self, standin: SendGridStandIn, client: Any
    ) -> None:
        mail = simple_mail(to_emails=None, subject="For everyone")
        envelopes = (("a@example.com", None), ("b@example.com", "Just for B"))
        for position, (address, subject) in enumerate(envelopes):
            envelope = Personalization()
            envelope.add_to(To(address))
            if subject:
                envelope.subject = subject
            # The SDK inserts at index 0 unless told where, which would reverse the order.
            mail.add_personalization(envelope, index=position)

        client.send(mail)

        [accepted] = standin.accepted
        assert accepted.subject_for(0) == "For everyone"
        assert accepted.subject_for(1) == "Just for B"

    def test_wait_for_wakes_when_another_thread_sends(
        self, standin: SendGridStandIn, client: Any
    ) -> None:
        sender = threading.Thread(target=client.send, args=(simple_mail(),))
        sender.start()
        try:
            mails = standin.wait_for(1, timeout=5)
        finally:
            sender.join()

        assert [mail.to for mail in mails] == [["jane.doe@example.com"]]

    def test_wait_for_raises_timeout_error_when_too_few_mails_arrive(
        self, standin: SendGridStandIn
    ) -> None:
        with pytest.raises(TimeoutError, match="0 mail"):
            standin.wait_for(1, timeout=0.05)


class TestAuthentication:
    def test_wrong_key_is_refused_with_401_and_nothing_recorded(
        self, standin: SendGridStandIn
    ) -> None:
        intruder = SendGridAPIClient("SG.wrong.key", host=standin.base_url)

        with pytest.raises(UnauthorizedError) as caught:
            intruder.send(simple_mail())

        assert caught.value.status_code == 401
        assert caught.value.to_dict == {
            "errors": [
                {
                    "message": "The provided authorization grant is invalid, expired, or revoked",
                    "field": None,
                    "help": None,
                }
            ]
        }
        assert standin.accepted == []
        assert standin.requests == 1

    def test_missing_authorization_header_is_refused_with_401(
        self, standin: SendGridStandIn
    ) -> None:
        with httpx.Client(base_url=standin.base_url) as http:
            response = http.post("/v3/mail/send", json=simple_mail().get())

        assert response.status_code == 401
        assert response.json()["errors"][0]["message"] == "authorization required"
        assert standin.accepted == []


class TestDocumentedLimits:
    def test_1000_recipients_across_personalizations_are_accepted(
        self, standin: SendGridStandIn, client: Any
    ) -> None:
        client.send(_mail_to_many(500, 500))

        assert len(standin.accepted[0].recipients) == 1000

    def test_1001_recipients_across_personalizations_are_refused_naming_personalizations(
        self, standin: SendGridStandIn, client: Any
    ) -> None:
        status, errors = refusal(client, _mail_to_many(500, 501))

        assert status == 400
        assert errors == [
            {
                "message": "There is a limit of 1000 total recipients (to + cc + bcc) per request.",
                "field": "personalizations",
                "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
                "#message.personalizations",
            }
        ]
        assert standin.accepted == []

    def test_more_than_1000_personalizations_are_refused(self, client: Any) -> None:
        status, errors = refusal(client, _mail_to_many(*([1] * 1001)))

        assert status == 400
        assert "You have provided 1001 personalizations" in errors[0]["message"]
        assert set(fields_of(errors)) == {"personalizations"}

    def test_same_address_in_to_and_cc_is_refused_naming_the_personalization(
        self, client: Any
    ) -> None:
        mail = simple_mail()
        mail.add_cc(Cc("JANE.DOE@example.com"))  # addresses compare without regard to case

        status, errors = refusal(client, mail)

        assert status == 400
        assert fields_of(errors) == ["personalizations.0"]
        assert "[JANE.DOE@example.com] in the personalizations.0.cc field" in errors[0]["message"]

    def test_missing_subject_is_refused_naming_subject(self, client: Any) -> None:
        status, errors = refusal(client, simple_mail(subject=None))

        assert status == 400
        assert fields_of(errors) == ["subject"]

    def test_subject_in_every_personalization_stands_in_for_the_message_subject(
        self, standin: SendGridStandIn, client: Any
    ) -> None:
        mail = simple_mail(to_emails=None, subject=None)
        envelope = Personalization()
        envelope.add_to(To("jane.doe@example.com"))
        envelope.subject = "Only here"
        mail.add_personalization(envelope)

        client.send(mail)

        assert standin.accepted[0].subject == "Only here"

    def test_empty_content_value_is_refused_naming_the_value(self, client: Any) -> None:
        mail = simple_mail(plain_text_content="", html_content=None)

        status, errors = refusal(client, mail)

        assert status == 400
        assert fields_of(errors) == ["content.0.value"]

    def test_mail_without_content_is_refused_naming_content(self, client: Any) -> None:
        status, errors = refusal(client, simple_mail(plain_text_content=None, html_content=None))

        assert status == 400
        assert fields_of(errors) == ["content"]

    def test_html_before_plain_text_is_refused_naming_content(self, client: Any) -> None:
        # The SDK's Mail sorts text/plain first, so only a hand-built body can get this wrong.
        payload = simple_mail().get()
        payload["content"] = list(reversed(payload["content"]))
        assert [item["type"] for item in payload["content"]] == ["text/html", "text/plain"]

        status, errors = refusal(client, payload)

        assert status == 400
        assert fields_of(errors) == ["content"]
        assert "text/plain needs to be first" in errors[0]["message"]

    def test_invalid_recipient_address_is_refused_naming_the_address(self, client: Any) -> None:
        mail = simple_mail(to_emails=To(email="jane.doe.example.com", name="Jane Doe"))

        status, errors = refusal(client, mail)

        assert status == 400
        assert errors[0]["field"] == "personalizations.0.to.0.email"
        assert errors[0]["message"] == "Does not contain a valid address."

    def test_merged_custom_args_over_10000_bytes_are_refused_naming_the_personalization(
        self, client: Any
    ) -> None:
        # Each half is within the limit alone; SendGrid measures the merged arguments.
        mail = simple_mail(to_emails=None)
        envelope = Personalization()
        envelope.add_to(To("jane.doe@example.com"))
        envelope.add_custom_arg(CustomArg("personal", "p" * 6000))
        mail.add_personalization(envelope)
        mail.add_custom_arg(CustomArg("global", "g" * 6000))

        status, errors = refusal(client, mail)

        assert status == 400
        assert fields_of(errors) == ["personalizations.0.custom_args"]

    def test_message_custom_args_over_10000_bytes_are_refused_naming_custom_args(
        self, client: Any
    ) -> None:
        mail = simple_mail()
        mail.add_custom_arg(CustomArg("blob", "x" * 10_001))

        status, errors = refusal(client, mail)

        assert status == 400
        assert fields_of(errors) == ["custom_args"]

    def test_eleven_categories_are_refused_naming_categories(self, client: Any) -> None:
        mail = simple_mail()
        for number in range(11):
            mail.add_category(Category(f"category-{number}"))

        status, errors = refusal(client, mail)

        assert status == 400
        assert fields_of(errors) == ["categories"]
        assert "You provided 11 categories" in errors[0]["message"]

    def test_category_longer_than_255_characters_is_refused_naming_categories(
        self, client: Any
    ) -> None:
        mail = simple_mail()
        mail.add_category(Category("c" * 256))

        status, errors = refusal(client, mail)

        assert status == 400
        assert fields_of(errors) == ["categories"]

    def test_body_of_30_mb_is_refused_with_413(self, standin: SendGridStandIn, client: Any) -> None:
        mail = simple_mail(plain_text_content="x" * MAX_MESSAGE_BYTES, html_content=None)

        with pytest.raises(PayloadTooLargeError) as caught:
            client.send(mail)

        assert caught.value.status_code == 413
        assert caught.value.to_dict["errors"][0]["message"] == "content too large"
        assert standin.accepted == []

    def test_refusals_report_every_problem_at_once(self, client: Any) -> None:
        mail = simple_mail(subject=None, plain_text_content="", html_content=None)
        mail.add_cc(Cc("jane.doe@example.com"))

        _, errors = refusal(client, mail)

        assert fields_of(errors) == ["subject", "content.0.value", "personalizations.0"]

    def test_refused_requests_are_counted_but_not_recorded(
        self, standin: SendGridStandIn, client: Any
    ) -> None:
        refusal(client, simple_mail(subject=None))
        client.send(simple_mail())

        assert standin.requests == 2
        assert len(standin.accepted) == 1


class TestRulesWithoutHttp:
    """Rules whose inputs the SDK cannot easily produce, checked on the payload directly."""

    NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def payload(self, **overrides: Any) -> dict[str, Any]:
        payload: dict[str, Any] = simple_mail().get()
        payload.update(overrides)
        return payload

    def test_send_at_more_than_72_hours_ahead_is_refused(self) -> None:
        too_late = int((self.NOW + timedelta(hours=72, seconds=1)).timestamp())
        just_in_time = int((self.NOW + timedelta(hours=72)).timestamp())

        refused = validate_mail_send(self.payload(send_at=too_late), now=self.NOW)
        allowed = validate_mail_send(self.payload(send_at=just_in_time), now=self.NOW)

        assert [error.field for error in refused] == ["send_at"]
        assert allowed == []

    def test_reserved_header_is_refused(self) -> None:
        errors = validate_mail_send(self.payload(headers={"Subject": "sneaky"}), now=self.NOW)

        assert [error.field for error in errors] == ["headers"]

    def test_reply_to_and_reply_to_list_together_are_refused(self) -> None:
        payload = self.payload(
            reply_to={"email": "a@candor.example"}, reply_to_list=[{"email": "b@candor.example"}]
        )

        errors = validate_mail_send(payload, now=self.NOW)

        assert [error.field for error in errors] == ["reply_to_list"]

    def test_quoted_sandbox_flag_is_refused(self) -> None:
        payload = self.payload(mail_settings={"sandbox_mode": {"enable": "true"}})

        errors = validate_mail_send(payload, now=self.NOW)

        assert [error.field for error in errors] == ["mail_settings.sandbox_mode.enable"]

    def test_missing_sender_is_refused_naming_from(self) -> None:
        payload = self.payload()
        del payload["from"]

        errors = validate_mail_send(payload, now=self.NOW)

        assert [error.field for error in errors] == ["from"]


class TestSandboxMode:
    def test_sandboxed_mail_answers_200_and_is_recorded_as_not_delivered(
        self, standin: SendGridStandIn, client: Any
    ) -> None:
        mail = simple_mail()
        mail.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))

        response = client.send(mail)

        assert response.status_code == 200
        [accepted] = standin.accepted
        assert accepted.sandboxed is True
        assert standin.delivered == []

    def test_sandboxed_mail_is_still_validated(self, client: Any) -> None:
        mail = simple_mail(subject=None)
        mail.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))

        status, errors = refusal(client, mail)

        assert status == 400
        assert fields_of(errors) == ["subject"]


class TestFaultInjection:
    def test_rate_limited_answer_carries_retry_after_then_the_retry_succeeds(
        self, standin: SendGridStandIn, client: Any
    ) -> None:
        standin.fail_next(1, status=429, retry_after=7)

        with pytest.raises(TooManyRequestsError) as caught:
            client.send(simple_mail())
        retry = client.send(simple_mail())

        assert caught.value.status_code == 429
        assert caught.value.headers["Retry-After"] == "7"
        assert caught.value.headers["X-RateLimit-Remaining"] == "0"
        assert caught.value.to_dict["errors"][0]["message"] == "too many requests"
        assert retry.status_code == 202
        assert standin.requests == 2
        assert len(standin.accepted) == 1

    def test_server_error_then_success(self, standin: SendGridStandIn, client: Any) -> None:
        standin.fail_next(1, status=500)

        with pytest.raises(InternalServerError):
            client.send(simple_mail())
        assert client.send(simple_mail()).status_code == 202

    def test_planned_faults_are_used_up_in_the_order_planned(
        self, standin: SendGridStandIn, client: Any
    ) -> None:
        standin.fail_next(2, status=429)
        standin.fail_next(1, status=503, retry_after=2)

        outcomes = []
        for _ in range(4):
            try:
                outcomes.append(client.send(simple_mail()).status_code)
            except HTTPError as error:
                outcomes.append(error.status_code)

        assert outcomes == [429, 429, 503, 202]

    def test_a_faulted_request_is_refused_before_its_key_is_checked(
        self, standin: SendGridStandIn
    ) -> None:
        standin.fail_next(1, status=500)
        intruder = SendGridAPIClient("SG.wrong.key", host=standin.base_url)

        with pytest.raises(InternalServerError):
            intruder.send(simple_mail())

    def test_hang_makes_the_sendgrid_client_time_out_yet_the_mail_is_sent(
        self, standin: SendGridStandIn, client: Any
    ) -> None:
        standin.hang_next(1, seconds=0.5)

        with pytest.raises(TimeoutError):
            client.client.mail.send.post(request_body=simple_mail().get(), timeout=0.1)

        # As with SendGrid itself, the client giving up says nothing about delivery.
        [late] = standin.wait_for(1, timeout=5)
        assert late.to == ["jane.doe@example.com"]

    async def test_hang_makes_an_async_client_time_out(self, standin: SendGridStandIn) -> None:
        standin.hang_next(1, seconds=0.5)
        headers = {"Authorization": f"Bearer {API_KEY}"}

        async with httpx.AsyncClient(base_url=standin.base_url, timeout=0.1) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.post("/v3/mail/send", json=simple_mail().get(), headers=headers)

        [late] = await asyncio.to_thread(standin.wait_for, 1)
        assert late.to == ["jane.doe@example.com"]

    def test_reset_drops_planned_faults_and_records(
        self, standin: SendGridStandIn, client: Any
    ) -> None:
        client.send(simple_mail())
        standin.fail_next(3, status=500)

        standin.reset()

        assert standin.accepted == []
        assert standin.requests == 0
        assert client.send(simple_mail()).status_code == 202

    def test_a_request_hanging_across_reset_is_not_recorded_after_it(
        self, standin: SendGridStandIn, client: Any
    ) -> None:
        standin.hang_next(1, seconds=0.3)
        sender = threading.Thread(target=client.send, args=(simple_mail(),))
        sender.start()
        standin.wait_for_requests(1)

        standin.reset()
        sender.join(timeout=5)

        assert standin.accepted == []

    @pytest.mark.parametrize("status", [200, 302, 600])
    def test_fail_next_only_plans_error_statuses(
        self, standin: SendGridStandIn, status: int
    ) -> None:
        with pytest.raises(ValueError, match="4xx or 5xx"):
            standin.fail_next(1, status=status)


class TestLifecycle:
    def test_listens_on_an_ephemeral_loopback_port_until_stopped(self) -> None:
        with SendGridStandIn(API_KEY) as standin:
            url = standin.base_url
            assert url.startswith("http://127.0.0.1:")
            assert int(url.rsplit(":", 1)[1]) > 0
            with httpx.Client(base_url=url) as http:
                assert http.post("/v3/mail/send").status_code == 401

        with httpx.Client(base_url=url) as http, pytest.raises(httpx.ConnectError):
            http.post("/v3/mail/send")

    def test_stop_cuts_a_hanging_answer_short(self) -> None:
        standin = SendGridStandIn(API_KEY).start()
        standin.hang_next(1, seconds=60)
        client = SendGridAPIClient(API_KEY, host=standin.base_url)
        outcome: list[BaseException] = []

        def send() -> None:
            try:
                client.send(simple_mail())
            except BaseException as error:  # the test inspects whatever the client raised
                outcome.append(error)

        sender = threading.Thread(target=send)
        sender.start()
        standin.wait_for_requests(1)
        started = time.monotonic()
        standin.stop()
        sender.join(timeout=10)

        assert time.monotonic() - started < 5
        assert [type(error) for error in outcome] == [ServiceUnavailableError]
        assert standin.accepted == []

    async def test_async_callers_can_use_it_as_an_async_context_manager(self) -> None:
        async with SendGridStandIn(API_KEY) as standin:
            headers = {"Authorization": f"Bearer {API_KEY}"}
            async with httpx.AsyncClient(base_url=standin.base_url) as http:
                response = await http.post(
                    "/v3/mail/send", json=simple_mail().get(), headers=headers
                )

        assert response.status_code == 202
        assert isinstance(standin.accepted[0], AcceptedMail)

    def test_unknown_path_answers_404_in_sendgrid_error_shape(
        self, standin: SendGridStandIn
    ) -> None:
        with httpx.Client(base_url=standin.base_url) as http:
            response = http.get("/v3/templates")

        assert response.status_code == 404
        assert response.json() == {
            "errors": [{"message": "not found", "field": None, "help": None}]
        }

    def test_base_url_before_start_is_an_error(self) -> None:
        with pytest.raises(RuntimeError, match="start"):
            _ = SendGridStandIn(API_KEY).base_url


def _mail_to_many(*group_sizes: int) -> Mail:
    """One personalization per group size, each with that many distinct ``to`` recipients."""
    mail = simple_mail(to_emails=None)
    for group, size in enumerate(group_sizes):
        envelope = Personalization()
        for number in range(size):
            envelope.add_to(To(f"candidate-{group}-{number}@example.com"))
        mail.add_personalization(envelope, index=group)
    return mail
