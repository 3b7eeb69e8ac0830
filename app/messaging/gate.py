"""The one policy gate every outgoing message passes (R-CAND-3/4/5, R-CP-5).

Pure: it takes what it needs as values and answers a verdict naming the rule behind it, so every
rule is unit-tested without a database and a held or refused message records why.

Delivery slots. Automated emails to a person go out once per local business day, at the
agency's digest time (16:00 in the recipient's zone unless the policy says otherwise): every
email that falls due that day by then goes in that one send - a digest when there are several
(R-CAND-4) - and the digest time lies inside the quiet-hours window (R-CAND-3: Mon-Fri
08:00-20:00 local), so nothing automated ever lands at night or on a weekend. An email that falls
due after the digest time, at night or on a weekend waits for the next slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.calendar import business_time as bt

QUIET_START = time(8)
QUIET_END = time(20)
DEFAULT_DIGEST_TIME = time(16)
#: Client nudges go in the contact's morning (R-CALL: not first thing, before lunch).
DEFAULT_NUDGE_TIME = time(10)
FREQUENCY_BUSINESS_DAYS = 2


class Rule(StrEnum):
    """The rules a verdict can name; the strings are stored on the message."""

    opted_out = "R-CAND-5 opted out of automated status emails"
    undeliverable = "R-CAND-5 address is undeliverable"
    no_address = "R-CAND-5 no email address"
    quiet_hours = "R-CAND-3 quiet hours"
    digest_slot = "R-CAND-4 daily digest slot"
    frequency = "R-CAND-4 at most one status email per submission per 2 business days"
    daily = "R-CAND-4 at most one automated email per candidate per local day"
    contact_no_address = "R-CP-2 the contact has no email address"
    contact_undeliverable = "R-CP-2 the contact's address is undeliverable"
    do_not_contact = "R-CP-2 do_not_contact"
    recruiter_only = "R-CP-2 recruiter_only: the recruiter passes it on personally"
    nudges_not_allowed = "R-CP-2 the client does not allow automated nudges"
    no_chase = "R-CP-3 the contact asked not to be chased"
    nudge_frequency = "R-CP-3 at most one nudge per submission per 2 business days"
    nudge_digest = "R-CP-3 one nudge digest per contact per day"
    contact_hours = "R-CP working hours of the contact"


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str | None
    time_zone: str
    opted_out: bool
    undeliverable: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    """``send`` now, ``hold`` until ``until``, or ``refuse``; ``rule`` says why (None: sent as
    soon as it fell due)."""

    action: str
    rule: Rule | None = None
    until: datetime | None = None


def digest_slot(
    instant: datetime, time_zone: str, digest_time: time = DEFAULT_DIGEST_TIME
) -> datetime:
    """The first delivery slot at or after ``instant``: the digest time on a local weekday."""
    zone = ZoneInfo(time_zone)
    local = instant.astimezone(zone)
    day = local.date()
    if local.timetz().replace(tzinfo=None) > digest_time:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, digest_time, tzinfo=zone).astimezone(UTC)


def promise_slot(day: date, time_zone: str, digest_time: time = DEFAULT_DIGEST_TIME) -> datetime:
    """The slot of a promised day: where the update that keeps the promise goes."""
    return datetime.combine(day, digest_time, tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def promise_check_at(day: date, time_zone: str) -> datetime:
    """When a promise check fires: the promised day's first delivery hour where the candidate
    lives (08:00). Its update then waits for that day's slot, or joins whatever email the
    candidate gets earlier that day (one email a day, R-CAND-4), and a newer status queued
    meanwhile replaces it."""
    return datetime.combine(day, QUIET_START, tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def not_before(calendar: bt.Calendar, last_sent_at: datetime, time_zone: str) -> datetime:
    """R-CAND-4, R-CP-3: the next email may go on the recipient's local day that is
    ``FREQUENCY_BUSINESS_DAYS`` business days (of ``calendar``: its weekdays and holidays) after
    the local day of the last one; answers that day's start. Counted in days where the recipient
    lives, not in the calendar's business hours: an email on Friday at 16:00 allows the next on
    Tuesday, whatever the agency's opening hours or time zone."""
    zone = ZoneInfo(time_zone)
    day = last_sent_at.astimezone(zone).date()
    counted = 0
    while counted < FREQUENCY_BUSINESS_DAYS:
        day += timedelta(days=1)
        if bt.is_business_day(calendar, day):
            counted += 1
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _in_quiet_hours(instant: datetime, time_zone: str) -> bool:
    local = instant.astimezone(ZoneInfo(time_zone))
    return local.weekday() >= 5 or not QUIET_START <= local.time() < QUIET_END


def decide(
    recipient: Recipient,
    *,
    due_at: datetime,
    now: datetime,
    automated: bool,
    last_status_sent_at: datetime | None,
    calendar: bt.Calendar,
    digest_time: time = DEFAULT_DIGEST_TIME,
    capped: bool = True,
    last_automated_sent_at: datetime | None = None,
    promised_day: date | None = None,
) -> Verdict:
    """The verdict for one message to ``recipient`` at ``now``.

    ``due_at`` is when the message first fell due (retries keep it, so a retry is never pushed
    into a later slot); ``last_status_sent_at`` is when the last status email of the same
    submission went out;
    ``calendar`` counts business days for the frequency cap (the agency's default calendar).
    ``capped``: the message is a status email the frequency cap counts (R-CAND-4); a note
    invitation or a review outcome is not. A message a recruiter sent (``automated`` false)
    skips the daily slot and only waits out quiet hours.
    ``last_automated_sent_at``: when the last automated email of any kind reached this
    candidate: one per local day (R-CAND-4), so anything more waits for the next day's slot.
    ``promised_day``: the earliest open promise of the message's submission; the frequency cap
    never holds the message past that day's slot (R-CAND-1).
    """
    if not recipient.email:
        return Verdict("refuse", Rule.no_address)
    if recipient.undeliverable:
        return Verdict("refuse", Rule.undeliverable)
    if automated and recipient.opted_out:
        return Verdict("refuse", Rule.opted_out)
    if not automated:
        return _within_hours(max(due_at, now), now, recipient.time_zone, Rule.quiet_hours)
    slot = digest_slot(due_at, recipient.time_zone, digest_time)
    rule = Rule.quiet_hours if _in_quiet_hours(due_at, recipient.time_zone) else Rule.digest_slot
    if capped and last_status_sent_at is not None:
        earliest = not_before(calendar, last_status_sent_at, recipient.time_zone)
        if earliest > slot:
            capped_slot = digest_slot(earliest, recipient.time_zone, digest_time)
            if promised_day is not None:
                # R-CAND-1: the promise-day update is never held back by the cap.
                kept_slot = promise_slot(promised_day, recipient.time_zone, digest_time)
                capped_slot = max(slot, min(capped_slot, kept_slot))
            if capped_slot > slot:
                slot, rule = capped_slot, Rule.frequency
    if last_automated_sent_at is not None:
        zone = ZoneInfo(recipient.time_zone)
        sent_day = last_automated_sent_at.astimezone(zone).date()
        if max(slot, now).astimezone(zone).date() <= sent_day:
            next_day = datetime.combine(sent_day + timedelta(days=1), time(0), tzinfo=zone)
            slot, rule = digest_slot(next_day, recipient.time_zone, digest_time), Rule.daily
    if slot > now:
        return Verdict("hold", rule, slot)
    if _in_quiet_hours(now, recipient.time_zone):
        # A retry or a late worker must not send at night either.
        return Verdict("hold", Rule.quiet_hours, digest_slot(now, recipient.time_zone, digest_time))
    return Verdict("send")


def next_window(instant: datetime, time_zone: str) -> datetime:
    """The first instant at or after ``instant`` outside quiet hours (Mon-Fri 08:00-20:00)."""
    if not _in_quiet_hours(instant, time_zone):
        return instant
    zone = ZoneInfo(time_zone)
    local = instant.astimezone(zone)
    day = local.date() if local.time() < QUIET_START else local.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, QUIET_START, tzinfo=zone).astimezone(UTC)


def _within_hours(due: datetime, now: datetime, time_zone: str, rule: Rule) -> Verdict:
    window = next_window(due, time_zone)
    return Verdict("send") if window <= now else Verdict("hold", rule, window)


@dataclass(frozen=True, slots=True)
class ContactRecipient:
    email: str | None
    time_zone: str
    policy: str  # ContactPolicy value
    no_chase: bool
    undeliverable: bool
    client_allows_nudges: bool


def decide_contact(
    contact: ContactRecipient,
    *,
    nudge: bool,
    due_at: datetime,
    now: datetime,
    last_nudge_sent_at: datetime | None,
    calendar: bt.Calendar,
    nudge_time: time = DEFAULT_NUDGE_TIME,
) -> Verdict:
    """The verdict for one message to a client contact (R-CP-2/3).

    A ``recruiter_only`` refusal means "a recruiter passes it on": the caller turns a refused
    thank-you note into a task. Notes go in the contact's working hours; nudges once a day at
    ``nudge_time`` in the contact's zone (one digest), at most one per submission per 2 business
    days (``last_nudge_sent_at``: the last nudge about the same submission to this contact).
    """
    if contact.policy == "do_not_contact":
        return Verdict("refuse", Rule.do_not_contact)
    if nudge and not contact.client_allows_nudges:
        return Verdict("refuse", Rule.nudges_not_allowed)
    if nudge and contact.no_chase:
        return Verdict("refuse", Rule.no_chase)
    if contact.policy == "recruiter_only":
        return Verdict("refuse", Rule.recruiter_only)
    if not contact.email:
        return Verdict("refuse", Rule.contact_no_address)
    if contact.undeliverable:
        return Verdict("refuse", Rule.contact_undeliverable)
    if not nudge:
        return _within_hours(max(due_at, now), now, contact.time_zone, Rule.contact_hours)
    slot = digest_slot(due_at, contact.time_zone, nudge_time)
    rule = Rule.nudge_digest
    if last_nudge_sent_at is not None:
        earliest = not_before(calendar, last_nudge_sent_at, contact.time_zone)
        if earliest > slot:
            slot, rule = digest_slot(earliest, contact.time_zone, nudge_time), Rule.nudge_frequency
    if slot > now:
        return Verdict("hold", rule, slot)
    return _within_hours(now, now, contact.time_zone, Rule.contact_hours)
