"""The candidate's page behind their private link: where they stand in plain words, their
thank-you note, a feedback request, opting out (R-TY, R-FB, R-CP-4, R-CAND-5/6)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import User
from app.auth.principal import SYSTEM
from app.candidates.models import Candidate
from app.clients.models import Client, Contact, ContactPolicy
from app.core import crud
from app.core.clock import utcnow
from app.core.errors import NotFound
from app.events import service as events
from app.feedback.requests import repository as feedback_requests
from app.interviews.models import Interview, InterviewInterviewer, InterviewStatus
from app.jobs.models import Job
from app.messaging.models import Promise, PromiseState
from app.messaging.render import CONFIDENTIAL_CLIENT
from app.portal.models import CandidateLink
from app.portal.schemas import (
    PortalApplication,
    PortalContact,
    PortalFeedback,
    PortalNote,
    PortalNoteVersion,
    PortalNoteView,
    PortalRecruiter,
    PortalStatus,
)
from app.submissions.models import Submission
from app.submissions.states import Stage
from app.thank_you import repository as note_records
from app.thank_you import service as notes
from app.thank_you.models import NoteSource, NoteState, VersionAuthor

MAX_APPLICATIONS = 50

#: R-CAND: where the candidate stands and what happens next, per stage, in plain words.
STAGE_WORDS: dict[Stage, tuple[str, str]] = {
    Stage.submitted: (
        "Your profile is with the client.",
        "They are looking at it. I chase them if they take a while, and tell you either way.",
    ),
    Stage.interview_scheduled: (
        "You have an interview arranged.",
        "After the interview I ask the client for their feedback.",
    ),
    Stage.interviewed: (
        "You've interviewed; the client is deciding.",
        "I chase them for a decision and tell you where things stand.",
    ),
    Stage.offer: ("The client wants to make you an offer.", "I'll call you to talk it through."),
    Stage.placed: ("You've been placed. Congratulations!", "Nothing more to wait for here."),
    Stage.rejected: (
        "The client decided not to take this application further.",
        "You may ask for feedback once. Keep applying: I'll keep you in mind for other roles.",
    ),
    Stage.withdrawn: ("You withdrew from this process.", "Nothing more to wait for here."),
    Stage.closed: (
        "This application closed without a decision.",
        "I'll keep you in mind for other roles that fit.",
    ),
}

NOTE_WORDS: dict[NoteState, str] = {
    NoteState.awaiting_review: "Your recruiter is reading your note before passing it on.",
    NoteState.changes_requested: "Your recruiter suggests a change: see the comment, then send "
    "a new version.",
    NoteState.approved: "Your recruiter approved your note and passed it on.",
    NoteState.withheld: "Your recruiter decided not to pass this note on. That's their call, "
    "not a judgement of you.",
}


async def status(session: AsyncSession, link: CandidateLink) -> PortalStatus:
    candidate = await crud.get_or_404(session, Candidate, link.candidate_id)
    recruiter = await session.get(User, candidate.owner_id)
    assert recruiter is not None
    rows = (
        await session.execute(
            select(
                col(Submission.id),
                col(Submission.stage),
                col(Submission.job_id),
                col(Job.title),
                col(Job.primary_contact_id),
                col(Client.name),
                col(Client.confidential),
            )
            .join(Job, col(Job.id) == col(Submission.job_id))
            .join(Client, col(Client.id) == col(Job.client_id))
            .where(col(Submission.candidate_id) == candidate.id)
            .order_by(col(Submission.id).desc())
            .limit(MAX_APPLICATIONS)
        )
    ).all()
    ids = [row.id for row in rows]
    promised = await _last_promises(session, ids)
    direct = await _direct_contacts(session, ids)
    asked = await feedback_requests.for_submissions(session, ids)
    applications = []
    for row in rows:
        stage = Stage(row.stage)
        where, nxt = STAGE_WORDS[stage]
        request = asked.get(row.id)
        contacts = direct.get(row.id, [])
        applications.append(
            PortalApplication(
                id=row.id,
                job_title=row.title,
                client=CONFIDENTIAL_CLIENT if row.confidential else row.name,
                stage=stage.value,
                where_you_stand=where,
                what_happens_next=nxt,
                hear_from_us_by=promised.get(row.id),
                may_email_directly=contacts,
                copy_your_recruiter=(
                    f"If you email them, please copy {recruiter.name} ({recruiter.email})."
                    if contacts
                    else None
                ),
                feedback=PortalFeedback(
                    can_ask=stage == Stage.rejected and request is None,
                    state=None
                    if request is None
                    else ("asked" if request.state == "open" else str(request.state)),
                    summary=request.summary if request is not None else None,
                ),
            )
        )
    return PortalStatus(
        first_name=candidate.first_name,
        recruiter=PortalRecruiter(name=recruiter.name, email=recruiter.email),
        applications=applications,
        link_expires_at=link.expires_at,
        link_is_for_a_thank_you_note=link.interview_id is not None,
    )


async def _last_promises(session: AsyncSession, submission_ids: list[int]) -> dict[int, date]:
    found: dict[int, date] = {}
    if not submission_ids:
        return found
    stmt = (
        select(col(Promise.submission_id), col(Promise.promised_date))
        .where(
            col(Promise.submission_id).in_(submission_ids),
            col(Promise.state) == PromiseState.open.value,
        )
        .order_by(col(Promise.id))
    )
    for submission_id, day in (await session.execute(stmt)).all():
        found[submission_id] = day  # the latest open promise wins
    return found


async def _direct_contacts(
    session: AsyncSession, submission_ids: list[int]
) -> dict[int, list[PortalContact]]:
    """R-CP-4: contacts of each application (its job's contact and its interviewers) who
    invited the candidate to email them directly."""
    found: dict[int, list[PortalContact]] = defaultdict(list)
    if not submission_ids:
        return found
    via_interview = (
        select(col(Interview.submission_id), col(InterviewInterviewer.contact_id))
        .join(InterviewInterviewer, col(InterviewInterviewer.interview_id) == col(Interview.id))
        .where(col(Interview.submission_id).in_(submission_ids))
    )
    via_job = (
        select(col(Submission.id), col(Job.primary_contact_id))
        .join(Job, col(Job.id) == col(Submission.job_id))
        .where(col(Submission.id).in_(submission_ids), col(Job.primary_contact_id).is_not(None))
    )
    pairs = {(sid, cid) for sid, cid in (await session.execute(via_interview)).all()}
    pairs |= {(sid, cid) for sid, cid in (await session.execute(via_job)).all()}
    contact_ids = {cid for _, cid in pairs}
    if not contact_ids:
        return found
    stmt = select(Contact).where(
        col(Contact.id).in_(contact_ids),
        col(Contact.candidate_may_email_directly).is_(True),
        col(Contact.contact_policy) != ContactPolicy.do_not_contact.value,
    )
    contacts = {c.id: c for c in (await session.execute(stmt)).scalars()}
    for sid, cid in sorted(pairs):
        if cid in contacts:
            found[sid].append(PortalContact(name=contacts[cid].name, email=contacts[cid].email))
    return found


async def _interview(session: AsyncSession, link: CandidateLink) -> Interview:
    if link.interview_id is None:
        raise NotFound("This link is not for a thank-you note.")
    interview = await session.get(Interview, link.interview_id)
    if interview is None:
        raise NotFound("This link is not for a thank-you note.")
    return interview


async def note_view(session: AsyncSession, link: CandidateLink) -> PortalNoteView:
    interview = await _interview(session, link)
    assert interview.id is not None
    candidate = await crud.get_or_404(session, Candidate, link.candidate_id)
    interviewers = list(
        (
            await session.execute(
                select(col(Contact.name))
                .join(InterviewInterviewer, col(InterviewInterviewer.contact_id) == col(Contact.id))
                .where(col(InterviewInterviewer.interview_id) == interview.id)
                .order_by(col(Contact.id))
            )
        ).scalars()
    )
    note = await note_records.for_interview(session, interview.id)
    view: PortalNote | None = None
    if note is not None:
        assert note.id is not None
        all_versions = (await note_records.versions(session, [note.id]))[note.id]
        sent = next((v for v in all_versions if v.number == note.approved_version), None)
        view = PortalNote(
            state=str(note.state),
            what_became_of_it=NOTE_WORDS[note.state],
            late=note.late,
            comment=note.review_comment if note.state == NoteState.changes_requested else None,
            versions=[
                PortalNoteVersion(
                    number=v.number,
                    written_by="you" if v.author == VersionAuthor.candidate else "your recruiter",
                    text=v.text,
                    created_at=v.created_at,
                )
                for v in all_versions
            ],
            sent_text=sent.text if sent is not None and note.state == NoteState.approved else None,
        )
    zone = ZoneInfo(candidate.time_zone)
    return PortalNoteView(
        interview_date=interview.starts_at.astimezone(zone).date(),
        interviewers=interviewers,
        aim="Notes that reach the interviewers within a day of the interview make the best "
        "impression. Your recruiter reads it first and passes it on.",
        can_write=interview.status == InterviewStatus.held
        and (note is None or note.state == NoteState.changes_requested),
        note=view,
    )


async def write_note(session: AsyncSession, link: CandidateLink, text: str) -> PortalNoteView:
    interview = await _interview(session, link)
    await notes.submit(
        session, SYSTEM, interview, text=text, source=NoteSource.candidate, now=utcnow()
    )
    await session.flush()
    return await note_view(session, link)


async def opt_out(session: AsyncSession, link: CandidateLink) -> None:
    candidate = await crud.get_or_404(session, Candidate, link.candidate_id)
    if crud.apply_changes(candidate, {"status_emails_opt_out": True}):
        assert candidate.id is not None
        await events.record(
            session,
            SYSTEM,
            action="candidate.opted_out",
            record_type="candidate",
            record_id=candidate.id,
            data={"via": "private link"},
        )
