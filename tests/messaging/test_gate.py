"""The policy gate's rules, without a database (R-CAND-3, R-CAND-4, R-CAND-5)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.calendar import business_time as bt
from app.messaging import gate
from app.messaging.gate import Recipient, Rule

NY = "America/New_York"
CAL = bt.Calendar(time_zone=NY, country="US")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def someone(**overrides: object) -> Recipient:
    values: dict[str, object] = {
        "email": "sam@mail.example",
        "time_zone": NY,
        "opted_out": False,
        "undeliverable": False,
    }
    values.update(overrides)
    return Recipient(**values)  # type: ignore[arg-type]


class TestDigestSlot:
    @pytest.mark.parametrize(
        ("due", "slot"),
        [
            # Mon 10:00 EST -> that day's 16:00 EST.
            ("2026-11-09T15:00:00Z", "2026-11-09T21:00:00Z"),
            # Exactly 16:00 goes in that slot.
            ("2026-11-09T21:00:00Z", "2026-11-09T21:00:00Z"),
            # Mon 17:00 EST (after the slot) -> Tue 16:00.
            ("2026-11-09T22:00:00Z", "2026-11-10T21:00:00Z"),
            # Fri 23:30 EST -> Mon 16:00 (never on a weekend).
            ("2026-11-14T04:30:00Z", "2026-11-16T21:00:00Z"),
            # Sat 03:00 EST -> Mon.
            ("2026-11-14T08:00:00Z", "2026-11-16T21:00:00Z"),
        ],
    )
    def test_one_slot_a_weekday_inside_quiet_hours__R_CAND_3_4(self, due: str, slot: str) -> None:
        assert gate.digest_slot(at(due), NY) == at(slot)

    def test_the_slot_is_local_to_the_recipient__R_CAND_3(self) -> None:
        # 15:00Z Monday is 16:00 in London: London's slot is now, New York's later that day.
        assert gate.digest_slot(at("2026-11-09T15:00:00Z"), "Europe/London") == at(
            "2026-11-09T16:00:00Z"
        )


class TestVerdicts:
    def test_due_by_the_slot_goes_out_at_the_slot__R_CAND_4(self) -> None:
        held = gate.decide(
            someone(),
            due_at=at("2026-11-09T15:00:00Z"),
            now=at("2026-11-09T15:00:00Z"),
            automated=True,
            last_status_sent_at=None,
            calendar=CAL,
        )
        assert (held.action, held.rule, held.until) == (
            "hold",
            Rule.digest_slot,
            at("2026-11-09T21:00:00Z"),
        )
        sent = gate.decide(
            someone(),
            due_at=at("2026-11-09T15:00:00Z"),
            now=at("2026-11-09T21:00:00Z"),
            automated=True,
            last_status_sent_at=None,
            calendar=CAL,
        )
        assert sent.action == "send"

    def test_due_at_night_waits_and_names_quiet_hours__R_CAND_3(self) -> None:
        verdict = gate.decide(
            someone(),
            due_at=at("2026-11-10T03:00:00Z"),  # Mon 22:00 EST
            now=at("2026-11-10T03:00:00Z"),
            automated=True,
            last_status_sent_at=None,
            calendar=CAL,
        )
        assert (verdict.action, verdict.rule, verdict.until) == (
            "hold",
            Rule.quiet_hours,
            at("2026-11-10T21:00:00Z"),
        )

    def test_two_business_days_between_status_emails_of_a_submission__R_CAND_4(self) -> None:
        verdict = gate.decide(
            someone(),
            due_at=at("2026-11-10T15:00:00Z"),
            now=at("2026-11-10T21:00:00Z"),
            automated=True,
            last_status_sent_at=at("2026-11-09T21:00:00Z"),  # Mon 16:00 EST
            calendar=CAL,
        )
        # Mon 16:00 + 2 business days (Veterans Day, Wed 11, is closed) = Thu 12 Nov 16:00.
        assert (verdict.action, verdict.rule, verdict.until) == (
            "hold",
            Rule.frequency,
            at("2026-11-12T21:00:00Z"),
        )

    @pytest.mark.parametrize(
        ("last_sent", "zone", "not_before"),
        [
            # Fri 13 Nov 16:00 EST -> Mon 16 (1), Tue 17 (2): from Tuesday's start, New York.
            ("2026-11-13T21:00:00Z", NY, "2026-11-17T05:00:00Z"),
            # Mon 9 Nov -> Tue 10 (1), Wed 11 is Veterans Day (closed), Thu 12 (2).
            ("2026-11-09T21:00:00Z", NY, "2026-11-12T05:00:00Z"),
            # Tue 03:00 UTC is still Monday 22:00 in New York: counted from Monday.
            ("2026-11-10T03:00:00Z", NY, "2026-11-12T05:00:00Z"),
            # ...but Tuesday 04:00 in Berlin: counted from Tuesday. The agency calendar's holiday
            # (Wed 11) counts wherever the candidate lives: Thu 12 (1), Fri 13 (2), Berlin time.
            ("2026-11-10T03:00:00Z", "Europe/Berlin", "2026-11-12T23:00:00Z"),
        ],
    )
    def test_the_cap_counts_business_days_in_the_recipients_days__R_CAND_4(
        self, last_sent: str, zone: str, not_before: str
    ) -> None:
        assert gate.not_before(CAL, at(last_sent), zone) == at(not_before)

    def test_an_email_two_business_days_later_at_the_same_hour_may_go__R_CAND_4(self) -> None:
        verdict = gate.decide(
            someone(),
            due_at=at("2026-11-17T15:00:00Z"),  # Tue 10:00 EST, a check
            now=at("2026-11-17T21:00:00Z"),
            automated=True,
            last_status_sent_at=at("2026-11-13T21:00:00Z"),  # Fri 16:00 EST
            calendar=CAL,
        )
        assert verdict.action == "send"

    @pytest.mark.parametrize(
        ("recipient", "rule"),
        [
            (someone(opted_out=True), Rule.opted_out),
            (someone(undeliverable=True), Rule.undeliverable),
            (someone(email=None), Rule.no_address),
        ],
    )
    def test_refusals_name_their_rule__R_CAND_5_R_CP_5(
        self, recipient: Recipient, rule: Rule
    ) -> None:
        verdict = gate.decide(
            recipient,
            due_at=at("2026-11-09T21:00:00Z"),
            now=at("2026-11-09T21:00:00Z"),
            automated=True,
            last_status_sent_at=None,
            calendar=CAL,
        )
        assert (verdict.action, verdict.rule) == ("refuse", rule)


# Generated over a fortnight of send instants (every 3 hours) and every earlier email of the
# same local day or the day before, in two zones: the rule holds for the class, not an example.
ZONES = [NY, "Asia/Tokyo"]
INSTANTS = [at("2026-11-09T00:00:00Z") + timedelta(hours=3 * n) for n in range(112)]


class TestOneAutomatedEmailPerLocalDay:
    @pytest.mark.parametrize("zone", ZONES)
    def test_nothing_goes_on_a_local_day_that_already_had_an_email__R_CAND_4(
        self, zone: str
    ) -> None:
        for now in INSTANTS:
            for back in (timedelta(hours=h) for h in (1, 5, 11, 23, 30)):
                last = now - back
                verdict = gate.decide(
                    someone(time_zone=zone),
                    due_at=now,
                    now=now,
                    automated=True,
                    last_status_sent_at=None,
                    calendar=CAL,
                    last_automated_sent_at=last,
                )
                local = ZoneInfo(zone)
                same_day = last.astimezone(local).date() == now.astimezone(local).date()
                if verdict.action == "send":
                    assert not same_day, (now, last)
                else:
                    assert verdict.until is not None
                    assert verdict.until.astimezone(local).date() > last.astimezone(local).date()
                if same_day:
                    assert verdict.action == "hold"

    def test_a_recruiters_own_words_are_not_counted__R_CAND_4(self) -> None:
        verdict = gate.decide(
            someone(),
            due_at=at("2026-11-09T15:00:00Z"),
            now=at("2026-11-09T15:00:00Z"),
            automated=False,
            last_status_sent_at=None,
            calendar=CAL,
            last_automated_sent_at=at("2026-11-09T14:00:00Z"),
        )
        assert verdict == gate.Verdict("send")


class TestPromiseDayBeatsTheCap:
    @pytest.mark.parametrize("days_after", [0, 1, 2, 3])
    def test_the_cap_never_holds_a_message_past_its_promised_days_slot__R_CAND_1(
        self, days_after: int
    ) -> None:
        # An email went Mon 9 Nov at 16:00 EST: the cap allows the next on Wed 11 Nov.
        last = at("2026-11-09T21:00:00Z")
        due = at("2026-11-10T15:00:00Z")  # Tue 10:00 EST
        promised = date(2026, 11, 10) + timedelta(days=days_after)
        verdict = gate.decide(
            someone(),
            due_at=due,
            now=due,
            automated=True,
            last_status_sent_at=last,
            calendar=CAL,
            promised_day=promised,
        )
        capped = gate.digest_slot(gate.not_before(CAL, last, NY), NY)
        assert verdict.action == "hold" and verdict.until is not None
        assert verdict.until == min(capped, gate.promise_slot(promised, NY))
        assert verdict.until >= gate.digest_slot(due, NY)
