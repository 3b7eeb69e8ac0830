"""Thank-you notes through recruiter review (R-TY), delivered as the contact policy allows (R-CP).

A note arrives (through the candidate's link or from the recruiter on their behalf), gets its
automatic checks and a review task, and waits for the owner recruiter: approve (optionally with
an edited text, both kept), ask for changes (the candidate sees the comment and may send a new
version), or withhold (the candidate is told kindly). An approved note becomes, for each
interviewer of that interview: an email (``open``), a task to pass it on (``recruiter_only`` or no
address), or nothing at all (``do_not_contact``). Everything goes through the outbox.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.principal import Principal
from app.calendar import business_time as bt
from app.calendar import lookup as calendars
from app.clients.models import Contact, ContactPolicy
from app.core import crud
from app.core.errors import Conflict
from app.core.pagination import Page, PageParams, make_page
from app.events import service as events
from app.interviews.models import Interview, InterviewStatus
from app.messaging import gate, outbox
from app.messaging.models import MessageKind
from app.sla.policy import get_policy
from app.submissions.models import Submission
from app.submissions.states import Stage
from app.tasks.models import TaskKind
from app.tasks.recruiter import finish_task, open_pass_on_task, open_task
from app.thank_you import checks, repository, states
from app.thank_you.models import (
    NoteRecipient,
    NoteSource,
    NoteState,
    NoteVersion,
    RecipientOutcome,
    ThankYouNote,
    VersionAuthor,
)
from app.thank_you.schemas import (
    FindingPublic,
    NotePublic,
    NoteRecipientPublic,
    NoteVersionPublic,
)
from app.thank_you.states import NoteAction

#: R-TY-1: the note should reach the interviewers within a day of the interview's end.
NOTE_WINDOW = timedelta(hours=24)
QUEUE_LIMIT = 200


# --- invitation -------------------------------------------------------------------------


async def on_interview_held(session: AsyncSession, interview: Interview, *, now: datetime) -> None:
    """R-TY-1: an interview marked held invites the candidate to write a note (once)."""
    assert interview.id is not None
    if await repository.invitation_sent(session, interview.id):
        return
    submission = await session.get(Submission, interview.submission_id)
    if submission is None or submission.stage in (Stage.withdrawn, Stage.closed):
        return
    assert submission.id is not None
    await outbox.enqueue_to_candidate(
        session,
        kind=MessageKind.note_invitation,
        submission_id=submission.id,
        candidate_id=submission.candidate_id,
        due_at=max(now, interview.ends_at),
        reason="interview held: thank-you note invitation",
        automated=True,
        interview_id=interview.id,
    )


# --- reading ------------------------------------------------------------------------------


async def get(session: AsyncSession, principal: Principal, note_id: int) -> ThankYouNote:
    return await crud.get_or_404(
        session, ThankYouNote, note_id, visible=repository.visible_to(principal)
    )


async def publics(session: AsyncSession, notes: list[ThankYouNote]) -> list[NotePublic]:
    """Notes with their versions and recipients (two queries for any number of notes)."""
    ids = [note.id for note in notes if note.id is not None]
    by_note = await repository.versions(session, ids)
    recipients = await repository.recipients(session, ids)
    result = []
    for note in notes:
        assert note.id is not None
        result.append(
            NotePublic.model_validate(
                note,
                update={
                    "versions": [
                        NoteVersionPublic(
                            number=v.number,
                            author=v.author,
                            text=v.text,
                            findings=[FindingPublic.model_validate(f) for f in v.findings],
                            created_at=v.created_at,
                        )
                        for v in by_note[note.id]
                    ],
                    "recipients": sorted(
                        (NoteRecipientPublic.model_validate(r) for r in recipients[note.id]),
                        key=lambda r: r.contact_id,
                    ),
                },
            )
        )
    return result


async def list_page(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    state: NoteState | None,
    submission_id: int | None,
    interview_id: int | None,
) -> Page[NotePublic]:
    stmt = crud.where_all(
        select(ThankYouNote),
        repository.visible_to(principal),
        col(ThankYouNote.state) == state.value if state else None,
        col(ThankYouNote.submission_id) == submission_id if submission_id else None,
        col(ThankYouNote.interview_id) == interview_id if interview_id else None,
    )
    id_col = col(ThankYouNote.id)
    rows = list(
        (
            await session.execute(
                stmt.where(id_col > page.after_id).order_by(id_col).limit(page.limit + 1)
            )
        ).scalars()
    )
    items = await publics(session, rows)
    last_id = items[page.limit - 1].id if len(items) > page.limit else None
    return make_page(items, limit=page.limit, id_of=last_id)


async def review_queue(session: AsyncSession, principal: Principal) -> list[NotePublic]:
    """R-TY-4: the notes waiting for this recruiter's review, soonest deadline first (admins and
    integrations: everyone's)."""
    notes = await repository.awaiting_review(
        session,
        reviewer_id=principal.user_id,
        everyone=not principal.is_recruiter,
        limit=QUEUE_LIMIT,
    )
    return await publics(session, notes)


# --- arriving -----------------------------------------------------------------------------


async def _known_names(
    session: AsyncSession, interview: Interview, submission: Submission
) -> tuple[list[str], list[str]]:
    """The interviewers' names, and other names a note may rightly contain."""
    assert interview.id is not None and submission.id is not None
    interviewers = [c.name for c in await repository.interviewers(session, interview.id)]
    return interviewers, await repository.names_around(session, submission.id)


async def submit(
    session: AsyncSession,
    actor: Principal,
    interview: Interview,
    *,
    text: str,
    source: NoteSource,
    now: datetime,
) -> ThankYouNote:
    """A note or its next version arrives: checks, a review task, an event (no text in it)."""
    if interview.status != InterviewStatus.held:
        raise Conflict("A thank-you note follows an interview that was held.")
    submission = await session.get(Submission, interview.submission_id)
    assert submission is not None and submission.id is not None and interview.id is not None
    note = await repository.for_interview(session, interview.id)
    if note is None:
        note = ThankYouNote(
            interview_id=interview.id,
            submission_id=submission.id,
            candidate_id=submission.candidate_id,
            reviewer_id=submission.owner_id,
            state=states.INITIAL,
            source=source,
            received_at=now,
            late=now > interview.ends_at + NOTE_WINDOW,
            after_rejection=submission.stage == Stage.rejected,
        )
        session.add(note)
        await session.flush()
        number = 1
    elif (target := states.next_state(note.state, NoteAction.resubmit)) is not None:
        assert note.id is not None
        number = 1 + await repository.last_version_number(session, note.id)
        note.state, note.review_comment, note.updated_at = target, None, now
    elif note.state == NoteState.awaiting_review:
        raise Conflict("The note is with the recruiter for review; wait for their answer.")
    else:
        raise Conflict(f"The note was already {str(note.state).replace('_', ' ')}.")
    assert note.id is not None
    interviewers, others = await _known_names(session, interview, submission)
    findings = checks.check_note(text, interviewer_names=interviewers, other_known_names=others)
    session.add(
        NoteVersion(
            note_id=note.id,
            number=number,
            author=VersionAuthor.candidate
            if source == NoteSource.candidate
            else VersionAuthor.recruiter,
            author_user_id=actor.user_id,
            text=text,
            findings=[f.as_dict() for f in findings],
            created_at=now,
        )
    )
    await _review_task(session, note, submission, now=now)
    await events.record(
        session,
        actor,
        action="thank_you_note.received",
        record_type="thank_you_note",
        record_id=note.id,
        data={
            "version": number,
            "source": source.value,
            "late": note.late,
            "findings": sorted({f.code for f in findings}),
        },
    )
    return note


async def _review_task(
    session: AsyncSession, note: ThankYouNote, submission: Submission, *, now: datetime
) -> None:
    """R-TY-4: review due 2 business hours after the note arrives, breached at 4 (the agency's
    policy and calendar)."""
    policy = await get_policy(session)
    agency = await calendars.default_calendar(session)
    due = bt.add_business_hours(agency, now, policy.review_due_hours)
    breach = bt.add_business_hours(agency, now, policy.review_breach_hours)
    late = " It arrived after the 24-hour window (late)." if note.late else ""
    task = await open_task(
        session,
        kind=TaskKind.review,
        assignee_id=note.reviewer_id,
        submission_id=submission.id,
        title=f"Review a thank-you note on submission {submission.id}",
        detail=f"Approve (optionally edited), ask for changes, or withhold.{late}",
        due_at=due,
        breach_at=breach,
    )
    note.review_task_id, note.review_due_at, note.review_breach_at = task.id, due, breach


# --- review -------------------------------------------------------------------------------


def _reviewed(note: ThankYouNote, action: NoteAction) -> NoteState:
    """The state a review decision leads to (the transition table), or 409."""
    target = states.next_state(note.state, action)
    if target is None:
        raise Conflict(
            f"The note is {str(note.state).replace('_', ' ')}; only a note awaiting review "
            "can be approved, sent back or withheld."
        )
    return target


async def approve(
    session: AsyncSession,
    principal: Principal,
    note: ThankYouNote,
    *,
    text: str | None,
    now: datetime,
) -> ThankYouNote:
    """R-TY-3/5: the sent text is the approved version; it goes to exactly the interviewers."""
    approved = _reviewed(note, NoteAction.approve)
    assert note.id is not None
    contacts = await repository.interviewers(session, note.interview_id)
    if not contacts:
        raise Conflict(
            "This interview has no interviewers recorded; add them to the interview before "
            "approving, so the note reaches exactly them (R-TY-5)."
        )
    latest = (await repository.versions(session, [note.id]))[note.id][-1]
    number = latest.number
    edited = text is not None and text.strip() != latest.text.strip()
    if edited:
        assert text is not None
        interview = await session.get(Interview, note.interview_id)
        submission = await session.get(Submission, note.submission_id)
        assert interview is not None and submission is not None
        interviewers, others = await _known_names(session, interview, submission)
        number += 1
        session.add(
            NoteVersion(
                note_id=note.id,
                number=number,
                author=VersionAuthor.recruiter_edit,
                author_user_id=principal.user_id,
                text=text,
                findings=[
                    f.as_dict()
                    for f in checks.check_note(
                        text, interviewer_names=interviewers, other_known_names=others
                    )
                ],
                created_at=now,
            )
        )
    note.state, note.approved_version = approved, number
    note.reviewed_at = note.updated_at = now
    await finish_task(session, note.review_task_id, now=now, resolution="approved")
    outcomes = await _deliver(session, note, contacts, now=now)
    await events.record(
        session,
        principal,
        action="thank_you_note.approved",
        record_type="thank_you_note",
        record_id=note.id,
        data={"version": number, "edited": edited, "outcomes": outcomes},
    )
    return note


async def _deliver(
    session: AsyncSession, note: ThankYouNote, contacts: list[Contact], *, now: datetime
) -> dict[str, int]:
    """One outcome per interviewer, as their contact policy allows (R-CP-2)."""
    assert note.id is not None
    counts: dict[str, int] = defaultdict(int)
    for contact in contacts:
        assert contact.id is not None
        row: dict[str, Any] = {"note_id": note.id, "contact_id": contact.id}
        if contact.contact_policy == ContactPolicy.do_not_contact:
            row.update(outcome=RecipientOutcome.withheld, reason=str(gate.Rule.do_not_contact))
        elif contact.contact_policy == ContactPolicy.recruiter_only or not contact.email:
            why = (
                gate.Rule.recruiter_only
                if contact.contact_policy == ContactPolicy.recruiter_only
                else gate.Rule.contact_no_address
            )
            task = await open_pass_on_task(
                session,
                assignee_id=note.reviewer_id,
                submission_id=note.submission_id,
                contact_id=contact.id,
                contact_name=contact.name,
                why=f"{why}.",
                now=now,
            )
            row.update(outcome=RecipientOutcome.pass_on, reason=str(why), task_id=task.id)
        else:
            message_id = await outbox.enqueue_to_contact(
                session,
                kind=MessageKind.thank_you_note,
                contact_id=contact.id,
                submission_id=note.submission_id,
                candidate_id=note.candidate_id,
                due_at=now,
                reason="approved thank-you note",
                automated=False,
                note_id=note.id,
            )
            row.update(outcome=RecipientOutcome.emailed, message_id=message_id)
        session.add(NoteRecipient(**row))
        counts[str(row["outcome"])] += 1
    await session.flush()
    return dict(counts)


async def request_changes(
    session: AsyncSession, principal: Principal, note: ThankYouNote, *, comment: str, now: datetime
) -> ThankYouNote:
    """R-TY-3: the candidate sees the comment and may send a new version (with a fresh link)."""
    changes_requested = _reviewed(note, NoteAction.request_changes)
    assert note.id is not None
    note.state, note.review_comment = changes_requested, comment
    note.reviewed_at = note.updated_at = now
    await finish_task(session, note.review_task_id, now=now, resolution="changes requested")
    await outbox.enqueue_to_candidate(
        session,
        kind=MessageKind.note_changes_requested,
        submission_id=note.submission_id,
        candidate_id=note.candidate_id,
        due_at=now,
        reason="thank-you note: changes requested",
        automated=False,
        interview_id=note.interview_id,
        note_id=note.id,
        detail=comment,
    )
    await events.record(
        session,
        principal,
        action="thank_you_note.changes_requested",
        record_type="thank_you_note",
        record_id=note.id,
        data={},
    )
    return note


async def withhold(
    session: AsyncSession, principal: Principal, note: ThankYouNote, *, reason: str, now: datetime
) -> ThankYouNote:
    """R-TY-3: nothing reaches the client; the candidate is told kindly (never the reason)."""
    withheld = _reviewed(note, NoteAction.withhold)
    assert note.id is not None
    note.state, note.withheld_reason = withheld, reason
    note.reviewed_at = note.updated_at = now
    await finish_task(session, note.review_task_id, now=now, resolution="withheld")
    if note.source == NoteSource.candidate:
        await outbox.enqueue_to_candidate(
            session,
            kind=MessageKind.note_withheld,
            submission_id=note.submission_id,
            candidate_id=note.candidate_id,
            due_at=now,
            reason="thank-you note withheld",
            automated=False,
            note_id=note.id,
        )
    await events.record(
        session,
        principal,
        action="thank_you_note.withheld",
        record_type="thank_you_note",
        record_id=note.id,
        data={},
    )
    return note
