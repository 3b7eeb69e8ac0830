"""The demo agency behind ``candor demo``: a small, realistic book of business to click through.

Northbridge Talent (a fictional agency) has three recruiters, four clients and a dozen candidates
whose submissions stand at every kind of stage. Everything is written through the domain services
as the system principal, never by raw inserts, so each record carries its events, passes the same
checks an API call would (R-ST moves, R-CP contacts, external ids) and looks like real history.

The data is deterministic and relative to ``now``: three submissions were made 6-8 calendar days
ago (4-6 business days), so the SLA checks (R-SLA-1) of a freshly started demo fall due within its
first minutes; interviews sit on the client's business days at sensible local hours. Only the API
keys are random, as keys must be. Every address is on a reserved ``.example`` domain and every
phone number in a range set aside for fiction, so a demo can never email or call a real person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

import app.models  # noqa: F401 - every table registered before the first query
from app.auth import service as auth
from app.auth.models import ApiClientCreate, ApiClientRole, User, UserCreate, UserRole
from app.auth.principal import SYSTEM
from app.calendar import business_time
from app.calendar import service as calendar_service
from app.calendar.business_time import Calendar
from app.calendar.models import CalendarCreate
from app.candidates import service as candidates
from app.candidates.models import Candidate, CandidateCreate
from app.clients import service as clients
from app.clients.models import (
    Client,
    ClientCreate,
    Contact,
    ContactCreate,
    ContactPolicy,
    ContactRole,
)
from app.core.clock import utcnow
from app.core.database import make_engine, make_sessionmaker
from app.core.settings import Settings
from app.feedback import service as feedback_service
from app.feedback.models import Decision, Feedback, FeedbackCreate
from app.interviews import service as interviews
from app.interviews.models import Interview, InterviewCreate, InterviewKind, InterviewStatus
from app.interviews.models import ReplyChannel as Reply
from app.jobs import service as jobs
from app.jobs.models import Job, JobCreate
from app.portal import links
from app.portal.models import CandidateLink
from app.submissions import service as submissions
from app.submissions.models import StageMoveCreate, Submission, SubmissionCreate
from app.submissions.states import Stage

AGENCY_DOMAIN = "northbridge-talent.example"


@dataclass
class DemoSummary:
    """What ``candor demo`` loaded, and the keys to explore it with.

    The keys are left out of ``repr`` (and ``str``), so logging a summary never leaks them; the
    command prints the admin key once, on purpose.
    """

    admin_key: str = field(repr=False)
    integration_key: str = field(repr=False)
    recruiter_keys: dict[str, str] = field(repr=False)
    recruiters: int
    clients: int
    contacts: int
    jobs: int
    candidates: int
    submissions: int
    interviews: int
    feedback: int
    #: A candidate's private link to write a thank-you note for a held interview (R-TY-1).
    note_link: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return (
            f"{self.recruiters} recruiters, {self.clients} clients, {self.contacts} contacts, "
            f"{self.jobs} jobs, {self.candidates} candidates, {self.submissions} submissions, "
            f"{self.interviews} interviews, {self.feedback} feedback"
        )


# --- the cast ----------------------------------------------------------------------------------
# Keys (short lower-case names) only tie the records below together; they are not stored.


@dataclass(frozen=True, slots=True, kw_only=True)
class _Person:
    key: str
    name: str
    email: str
    time_zone: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _ContactSpec:
    key: str
    name: str
    title: str
    role: ContactRole
    email: str
    time_zone: str
    policy: ContactPolicy = ContactPolicy.open
    phone: str | None = None
    may_email_directly: bool = False
    no_chase: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class _ClientSpec:
    key: str
    name: str
    #: Where the client works: interviews land on its business days (R-BT), not on its holidays.
    calendar: Calendar
    contacts: tuple[_ContactSpec, ...]
    confidential: bool = False
    allow_automated_nudges: bool = False
    external_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _JobSpec:
    key: str
    title: str
    client: str
    primary_contact: str
    owner: str
    external_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _CandidateSpec:
    key: str
    first_name: str
    last_name: str
    email: str
    time_zone: str
    owner: str
    phone: str | None = None
    opt_out: bool = False
    external_id: str | None = None


ADMIN = _Person(
    key="helen",
    name="Helen Adeyemi",
    email=f"helen.adeyemi@{AGENCY_DOMAIN}",
    time_zone="America/New_York",
)

RECRUITERS: tuple[_Person, ...] = (
    _Person(
        key="priya",
        name="Priya Raman",
        email=f"priya.raman@{AGENCY_DOMAIN}",
        time_zone="America/New_York",
    ),
    _Person(
        key="marcus",
        name="Marcus Whitaker",
        email=f"marcus.whitaker@{AGENCY_DOMAIN}",
        time_zone="Europe/London",
    ),
    _Person(
        key="sofia",
        name="Sofia Lindqvist",
        email=f"sofia.lindqvist@{AGENCY_DOMAIN}",
        time_zone="Europe/Berlin",
    ),
)

# Phone numbers: US 555-01xx and the UK's 020 7946 0xxx are reserved for fiction.
CLIENTS: tuple[_ClientSpec, ...] = (
    _ClientSpec(
        key="lumen",
        name="Lumen Health Systems",
        calendar=Calendar(time_zone="America/New_York", country="US", subdivision="MA"),
        allow_automated_nudges=True,
        external_id="ATS-CL-2001",
        contacts=(
            _ContactSpec(
                key="dana",
                name="Dana Whitfield",
                title="VP Engineering",
                role=ContactRole.hiring_manager,
                email="dana.whitfield@lumenhealth.example",
                phone="+1 617 555 0134",
                time_zone="America/New_York",
                # She told candidates to write to her directly (R-CP-4).
                may_email_directly=True,
            ),
            _ContactSpec(
                key="marco",
                name="Marco Bellini",
                title="Talent Acquisition Partner",
                role=ContactRole.corporate_recruiter,
                email="marco.bellini@lumenhealth.example",
                phone="+1 617 555 0178",
                time_zone="America/New_York",
            ),
            _ContactSpec(
                key="grace",
                name="Grace Okafor",
                title="Staff Data Engineer",
                role=ContactRole.interviewer,
                email="grace.okafor@lumenhealth.example",
                time_zone="America/Chicago",
            ),
        ),
    ),
    _ClientSpec(
        key="calder",
        name="Calder & Finch",
        calendar=Calendar(time_zone="Europe/London", country="GB", subdivision="ENG"),
        external_id="ATS-CL-2002",
        contacts=(
            _ContactSpec(
                key="oliver",
                name="Oliver Pemberton",
                title="Head of Finance Operations",
                role=ContactRole.hiring_manager,
                email="oliver.pemberton@calderfinch.example",
                phone="+44 20 7946 0321",
                time_zone="Europe/London",
                # Senior partner: everything goes through the recruiter personally (R-CP-2).
                policy=ContactPolicy.recruiter_only,
            ),
            _ContactSpec(
                key="aisha",
                name="Aisha Rahman",
                title="Senior Financial Analyst",
                role=ContactRole.interviewer,
                email="aisha.rahman@calderfinch.example",
                phone="+44 20 7946 0587",
                time_zone="Europe/London",
            ),
        ),
    ),
    _ClientSpec(
        key="brightwater",
        name="Brightwater Energie GmbH",
        calendar=Calendar(time_zone="Europe/Berlin", country="DE", subdivision="BE"),
        contacts=(
            _ContactSpec(
                key="katrin",
                name="Katrin Vogel",
                title="Head of Data Platform",
                role=ContactRole.hiring_manager,
                email="katrin.vogel@brightwater-energie.example",
                time_zone="Europe/Berlin",
                # She answers in her own time and asked not to be chased (R-CP-3).
                no_chase=True,
            ),
            _ContactSpec(
                key="jonas",
                name="Jonas Meier",
                title="Recruiting Lead",
                role=ContactRole.corporate_recruiter,
                email="jonas.meier@brightwater-energie.example",
                time_zone="Europe/Berlin",
                # Asked to be left out of agency mail entirely (R-CP-2).
                policy=ContactPolicy.do_not_contact,
            ),
        ),
    ),
    _ClientSpec(
        key="meridian",
        name="Meridian Robotics",
        calendar=Calendar(time_zone="America/Los_Angeles", country="US", subdivision="CA"),
        # A stealth search: candidates never see the client's name (R-CAND-6).
        confidential=True,
        contacts=(
            _ContactSpec(
                key="rebecca",
                name="Rebecca Cho",
                title="Director of Autonomy",
                role=ContactRole.hiring_manager,
                email="rebecca.cho@meridian-robotics.example",
                phone="+1 415 555 0112",
                time_zone="America/Los_Angeles",
                policy=ContactPolicy.recruiter_only,
            ),
            _ContactSpec(
                key="daniel",
                name="Daniel Ashworth",
                title="Principal Robotics Engineer",
                role=ContactRole.interviewer,
                email="daniel.ashworth@meridian-robotics.example",
                time_zone="America/Denver",
            ),
        ),
    ),
)

JOBS: tuple[_JobSpec, ...] = (
    _JobSpec(
        key="backend",
        title="Senior Backend Engineer (Python)",
        client="lumen",
        primary_contact="dana",
        owner="priya",
        external_id="ATS-J-3001",
    ),
    _JobSpec(
        key="analyst",
        title="Clinical Data Analyst",
        client="lumen",
        primary_contact="marco",
        owner="priya",
    ),
    _JobSpec(
        key="controller",
        title="Financial Controller",
        client="calder",
        primary_contact="oliver",
        owner="marcus",
        external_id="ATS-J-3003",
    ),
    _JobSpec(
        key="payroll",
        title="Payroll Specialist",
        client="calder",
        primary_contact="oliver",
        owner="marcus",
    ),
    _JobSpec(
        key="dataplatform",
        title="Data Platform Engineer",
        client="brightwater",
        primary_contact="katrin",
        owner="sofia",
    ),
    _JobSpec(
        key="robotics",
        title="Robotics Software Engineer (ROS 2)",
        client="meridian",
        primary_contact="rebecca",
        owner="sofia",
    ),
)

CANDIDATES: tuple[_CandidateSpec, ...] = (
    _CandidateSpec(
        key="amara",
        first_name="Amara",
        last_name="Nwosu",
        email="amara.nwosu@mail.example",
        phone="+1 212 555 0147",
        time_zone="America/New_York",
        owner="priya",
        external_id="ATS-C-1001",
    ),
    _CandidateSpec(
        key="meilin",
        first_name="Mei-Lin",
        last_name="Chen",
        email="meilin.chen@mail.example",
        time_zone="America/Los_Angeles",
        owner="priya",
    ),
    _CandidateSpec(
        key="kenji",
        first_name="Kenji",
        last_name="Watanabe",
        email="kenji.watanabe@inbox.example",
        time_zone="America/Los_Angeles",
        owner="priya",
        # Prefers a call to status emails; his recruiter's tasks still fire (R-CAND-5).
        opt_out=True,
        external_id="ATS-C-1002",
    ),
    _CandidateSpec(
        key="lucia",
        first_name="Lucía",
        last_name="Fernández",
        email="lucia.fernandez@inbox.example",
        phone="+1 312 555 0163",
        time_zone="America/Chicago",
        owner="priya",
    ),
    _CandidateSpec(
        key="rahul",
        first_name="Rahul",
        last_name="Mehta",
        email="rahul.mehta@post.example",
        phone="+44 20 7946 0742",
        time_zone="Europe/London",
        owner="marcus",
        external_id="ATS-C-1003",
    ),
    _CandidateSpec(
        key="samuel",
        first_name="Samuel",
        last_name="Osei",
        email="samuel.osei@post.example",
        time_zone="Europe/London",
        owner="marcus",
    ),
    _CandidateSpec(
        key="chloe",
        first_name="Chloé",
        last_name="Dubois",
        email="chloe.dubois@mail.example",
        time_zone="Europe/Paris",
        owner="marcus",
    ),
    _CandidateSpec(
        key="tobias",
        first_name="Tobias",
        last_name="Andersson",
        email="tobias.andersson@inbox.example",
        time_zone="Europe/Stockholm",
        owner="marcus",
    ),
    _CandidateSpec(
        key="hannah",
        first_name="Hannah",
        last_name="Schmidt",
        email="hannah.schmidt@post.example",
        time_zone="Europe/Berlin",
        owner="sofia",
    ),
    _CandidateSpec(
        key="mateusz",
        first_name="Mateusz",
        last_name="Kowalski",
        email="mateusz.kowalski@mail.example",
        time_zone="Europe/Warsaw",
        owner="sofia",
        external_id="ATS-C-1004",
    ),
    _CandidateSpec(
        key="fatima",
        first_name="Fatima",
        last_name="Al-Sayed",
        email="fatima.alsayed@inbox.example",
        time_zone="Asia/Dubai",
        owner="sofia",
    ),
    _CandidateSpec(
        key="ethan",
        first_name="Ethan",
        last_name="Brooks",
        email="ethan.brooks@post.example",
        time_zone="America/Denver",
        owner="sofia",
    ),
)


# --- the agency as it is being written ----------------------------------------------------------


class _Agency:
    """The records written so far, by key, and the few verbs the submission stories need.

    Every verb goes through a domain service as the system principal. The services read the wall
    clock themselves and refuse instants after it; the stories are written relative to ``now``
    (which is never later than the wall clock), and each verb also refuses an instant after
    ``now``, so a wrong story fails loudly here rather than depending on how fast the load ran.
    """

    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self.session = session
        self.now = now
        self.users: dict[str, User] = {}
        self.clients: dict[str, Client] = {}
        self.calendars: dict[str, Calendar] = {}
        self.contacts: dict[str, Contact] = {}
        self.jobs: dict[str, Job] = {}
        self.candidates: dict[str, Candidate] = {}
        self.submissions: list[Submission] = []
        self.interviews: list[Interview] = []
        self.feedback: list[Feedback] = []

    # time -------------------------------------------------------------------------------------

    def ago(self, *, days: int = 0, hours: int = 0, minutes: int = 0) -> datetime:
        return self.now - timedelta(days=days, hours=hours, minutes=minutes)

    def business_date(self, client: str, n: int) -> date:
        """The client's business day ``n`` business days from today (its local today); n != 0.

        Walks day by day, asking the client's calendar (R-BT): a demo interview never lands on a
        weekend or a bank holiday. ``n`` stays small, so the walk is a handful of steps.
        """
        if n == 0:
            raise ValueError("n must be non-zero: today may not be a business day")
        cal = self.calendars[client]
        day = self.now.astimezone(ZoneInfo(cal.time_zone)).date()
        step = timedelta(days=1 if n > 0 else -1)
        left = abs(n)
        while left:
            day += step
            if business_time.is_business_day(cal, day):
                left -= 1
        return day

    def slot(self, client: str, n: int, at: time) -> datetime:
        """Local wall time ``at`` on the business day ``n`` business days away, in UTC.

        Negative ``n`` is strictly before the client's local today, so always in the past;
        positive ``n`` strictly after it, so always in the future.
        """
        zone = ZoneInfo(self.calendars[client].time_zone)
        return datetime.combine(self.business_date(client, n), at, tzinfo=zone).astimezone(UTC)

    def first_check_in(self, job: str, minutes: int) -> datetime:
        """The latest submission instant whose first check (R-SLA-1: 5 business days on the job's
        client calendar) is due by ``minutes`` from now (negative: already due).

        Checks fall due only in business hours, so at night or on a weekend this is the last
        business instant before then: the worker fires it as soon as the demo starts. Calendar
        days alone cannot do this ("six days ago" on a Sunday is not five business days ago).
        Steps back a quarter hour at a time (a few hundred calls at most).
        """
        spec = next(j for j in JOBS if j.key == job)
        cal = self.calendars[spec.client]
        target = self.now + timedelta(minutes=minutes)
        at = min(self.now, target)
        while business_time.add_business_days(cal, at, 5) > target:
            at -= timedelta(minutes=15)
        return at

    def _past(self, instant: datetime) -> datetime:
        if instant > self.now:
            raise ValueError(f"demo story dated in the future: {instant.isoformat()}")
        return instant

    # verbs ------------------------------------------------------------------------------------

    async def submit(
        self, candidate: str, job: str, at: datetime, *, external_id: str | None = None
    ) -> Submission:
        submission = await submissions.create(
            self.session,
            SYSTEM,
            SubmissionCreate(
                candidate_id=_id(self.candidates[candidate]),
                job_id=_id(self.jobs[job]),
                submitted_at=self._past(at),
                external_id=external_id,
            ),
        )
        self.submissions.append(submission)
        return submission

    async def move(
        self, submission: Submission, stage: Stage, at: datetime, *, reason: str | None = None
    ) -> None:
        """A backdated move, as an ATS would report it (R-ST: never in the future)."""
        await submissions.move(
            self.session,
            SYSTEM,
            submission,
            StageMoveCreate(to_stage=stage, occurred_at=self._past(at), reason=reason),
        )

    async def interview(
        self,
        submission: Submission,
        kind: InterviewKind,
        *,
        starts_at: datetime,
        minutes: int,
        interviewers: tuple[str, ...],
        held: bool,
        location: str,
        reply_channel: Reply = Reply.recruiter,
        stated_decision_date: date | None = None,
        external_id: str | None = None,
    ) -> Interview:
        interview = await interviews.create(
            self.session,
            SYSTEM,
            InterviewCreate(
                submission_id=_id(submission),
                kind=kind,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=minutes),
                status=InterviewStatus.held if held else InterviewStatus.scheduled,
                interviewer_ids=[_id(self.contacts[key]) for key in interviewers],
                location=location,
                reply_channel=reply_channel,
                stated_decision_date=stated_decision_date,
                external_id=external_id,
            ),
        )
        self.interviews.append(interview)
        return interview

    async def feedback_for(
        self,
        submission: Submission,
        decision: Decision,
        *,
        received_at: datetime,
        interview: Interview | None = None,
        internal_notes: str | None = None,
        shareable_summary: str | None = None,
    ) -> Feedback:
        feedback = await feedback_service.create(
            self.session,
            SYSTEM,
            FeedbackCreate(
                submission_id=_id(submission),
                interview_id=_id(interview) if interview is not None else None,
                decision=decision,
                received_at=self._past(received_at),
                internal_notes=internal_notes,
                shareable_summary=shareable_summary,
            ),
        )
        self.feedback.append(feedback)
        return feedback


def _id(record: User | Client | Contact | Job | Candidate | Submission | Interview) -> int:
    """A flushed record's id (services flush before they return, so it is always there)."""
    assert record.id is not None
    return record.id


# --- loading -----------------------------------------------------------------------------------


async def _people(agency: _Agency, *, secret: str) -> tuple[str, str, dict[str, str]]:
    """Users, API clients and keys: the admin key, the integration key, the recruiters' keys."""
    session = agency.session
    staff = [(ADMIN, UserRole.admin)] + [(r, UserRole.recruiter) for r in RECRUITERS]
    for person, role in staff:
        agency.users[person.key] = await auth.create_user(
            session,
            SYSTEM,
            UserCreate(name=person.name, email=person.email, role=role, time_zone=person.time_zone),
        )
    admin_client = await auth.create_api_client(
        session,
        SYSTEM,
        ApiClientCreate(
            name="Demo admin",
            role=ApiClientRole.admin,
            description="The admin key printed by `candor demo`.",
        ),
    )
    ats_client = await auth.create_api_client(
        session,
        SYSTEM,
        ApiClientCreate(
            name="Demo ATS",
            role=ApiClientRole.integration,
            description="Stands in for the agency's ATS sync (upserts by external id).",
        ),
    )
    admin_key = await auth.issue_key(
        session, SYSTEM, secret=secret, name="demo", api_client=admin_client
    )
    ats_key = await auth.issue_key(
        session, SYSTEM, secret=secret, name="demo", api_client=ats_client
    )
    recruiter_keys: dict[str, str] = {}
    for person in RECRUITERS:
        key = await auth.issue_key(
            session, SYSTEM, secret=secret, name="demo", user=agency.users[person.key]
        )
        recruiter_keys[person.name] = key.key
    return admin_key.key, ats_key.key, recruiter_keys


async def _directory(agency: _Agency) -> None:
    """Clients with their contacts, then the jobs (a job's primary contact must exist first)."""
    session = agency.session
    # The agency's own calendar: recruiter tasks run on it (R-BT).
    await calendar_service.create(
        session,
        SYSTEM,
        CalendarCreate(
            name="Northbridge (New York)",
            time_zone="America/New_York",
            country="US",
            subdivision="NY",
            is_default=True,
        ),
    )
    for spec in CLIENTS:
        calendar = await calendar_service.create(
            session,
            SYSTEM,
            CalendarCreate(
                name=f"{spec.name} ({spec.calendar.time_zone})",
                time_zone=spec.calendar.time_zone,
                country=spec.calendar.country,
                subdivision=spec.calendar.subdivision,
            ),
        )
        client = await clients.create_client(
            session,
            SYSTEM,
            ClientCreate(
                name=spec.name,
                confidential=spec.confidential,
                allow_automated_nudges=spec.allow_automated_nudges,
                external_id=spec.external_id,
                calendar_id=calendar.id,
            ),
        )
        agency.clients[spec.key] = client
        agency.calendars[spec.key] = spec.calendar
        for c in spec.contacts:
            agency.contacts[c.key] = await clients.create_contact(
                session,
                SYSTEM,
                ContactCreate(
                    client_id=_id(client),
                    name=c.name,
                    title=c.title,
                    role=c.role,
                    email=c.email,
                    phone=c.phone,
                    time_zone=c.time_zone,
                    contact_policy=c.policy,
                    candidate_may_email_directly=c.may_email_directly,
                    no_chase=c.no_chase,
                ),
            )
    for job in JOBS:
        agency.jobs[job.key] = await jobs.create(
            session,
            SYSTEM,
            JobCreate(
                title=job.title,
                client_id=_id(agency.clients[job.client]),
                primary_contact_id=_id(agency.contacts[job.primary_contact]),
                owner_id=_id(agency.users[job.owner]),
                external_id=job.external_id,
            ),
        )
    for cand in CANDIDATES:
        agency.candidates[cand.key] = await candidates.create(
            session,
            SYSTEM,
            CandidateCreate(
                first_name=cand.first_name,
                last_name=cand.last_name,
                email=cand.email,
                phone=cand.phone,
                time_zone=cand.time_zone,
                status_emails_opt_out=cand.opt_out,
                owner_id=_id(agency.users[cand.owner]),
                external_id=cand.external_id,
            ),
        )


async def _waiting_for_a_first_answer(a: _Agency) -> None:
    """``submitted``: two fresh ones, and three backdated so that their first check (R-SLA-1,
    5 business days) is already due, due in 2 minutes, and due in 5 minutes: a newcomer sees the
    worker fire them while exploring."""
    await a.submit("amara", "backend", a.ago(hours=3), external_id="ATS-S-4001")
    await a.submit("meilin", "robotics", a.ago(hours=26))
    await a.submit("meilin", "backend", a.first_check_in("backend", -30))
    await a.submit("kenji", "analyst", a.first_check_in("analyst", 2), external_id="ATS-S-4002")
    await a.submit("chloe", "payroll", a.first_check_in("payroll", 5))


async def _interviews_coming_up(a: _Agency) -> None:
    """``interview_scheduled``: interviews on the client's next business days, with interviewers
    (R-TY-5 needs exactly that list), one with a contact who only talks through the recruiter."""
    lucia = await a.submit("lucia", "analyst", a.ago(days=4, hours=2))
    await a.move(lucia, Stage.interview_scheduled, a.ago(days=1, hours=5))
    await a.interview(
        lucia,
        InterviewKind.video,
        starts_at=a.slot("lumen", 2, time(11)),
        minutes=45,
        interviewers=("dana", "grace"),
        held=False,
        location="Video call (link in the calendar invitation)",
        external_id="ATS-I-5001",
    )

    fatima = await a.submit("fatima", "dataplatform", a.ago(days=5, hours=1))
    await a.move(fatima, Stage.interview_scheduled, a.ago(days=2))
    await a.interview(
        fatima,
        InterviewKind.phone_screen,
        starts_at=a.slot("brightwater", 1, time(10)),
        minutes=30,
        interviewers=("katrin",),
        held=False,
        location="Phone: Katrin calls the candidate",
    )

    amara = await a.submit("amara", "robotics", a.ago(days=3, hours=6))
    await a.move(amara, Stage.interview_scheduled, a.ago(hours=20))
    await a.interview(
        amara,
        InterviewKind.hiring_manager_call,
        starts_at=a.slot("meridian", 3, time(9, 30)),
        minutes=45,
        interviewers=("rebecca",),
        held=False,
        location="Video call (details from your recruiter)",
    )


async def _waiting_after_an_interview(a: _Agency) -> None:
    """``interviewed``: one whose stated decision date passed a week ago (its first check is due
    5 business days after that date, R-SLA-1: about now), one whose decision date is still ahead."""
    start = a.slot("calder", -8, time(14))
    rahul = await a.submit("rahul", "controller", start - timedelta(days=5))
    await a.move(rahul, Stage.interview_scheduled, start - timedelta(days=3))
    held = await a.interview(
        rahul,
        InterviewKind.onsite,
        starts_at=start,
        minutes=90,
        interviewers=("oliver", "aisha"),
        held=True,
        location="Calder & Finch, London office",
        stated_decision_date=a.business_date("calder", -5),
        reply_channel=Reply.recruiter,
    )
    await a.move(rahul, Stage.interviewed, held.ends_at + timedelta(hours=1))

    start = a.slot("brightwater", -2, time(15))
    hannah = await a.submit("hannah", "dataplatform", start - timedelta(days=6))
    await a.move(hannah, Stage.interview_scheduled, start - timedelta(days=4))
    held = await a.interview(
        hannah,
        InterviewKind.video,
        starts_at=start,
        minutes=60,
        interviewers=("katrin",),
        held=True,
        location="Video call",
        stated_decision_date=a.business_date("brightwater", 3),
        reply_channel=Reply.email,
    )
    await a.move(hannah, Stage.interviewed, held.ends_at + timedelta(minutes=30))


async def _decided(a: _Agency) -> Feedback:
    """Final and late stages: offer, placed (after a second round), rejected, withdrawn.

    Returns the feedback whose summary the recruiter approved, so the caller can approve it
    last, as a recruiter would after reading it.
    """
    # Rejected: blunt internal notes, and a kind summary still waiting for approval (R-FB).
    start = a.slot("calder", -10, time(10))
    samuel = await a.submit("samuel", "controller", start - timedelta(days=6))
    await a.move(samuel, Stage.interview_scheduled, start - timedelta(days=4))
    held = await a.interview(
        samuel,
        InterviewKind.video,
        starts_at=start,
        minutes=60,
        interviewers=("aisha",),
        held=True,
        location="Video call",
        stated_decision_date=a.business_date("calder", -7),
    )
    await a.move(samuel, Stage.interviewed, held.ends_at + timedelta(hours=1))
    said = a.slot("calder", -7, time(11, 30))
    await a.feedback_for(
        samuel,
        Decision.reject,
        received_at=said,
        interview=held,
        internal_notes=(
            "Oliver: consolidation modelling too weak for a group this size, and he talked over "
            "Aisha twice. Not a fit for a four-person team. Do not resubmit for finance roles."
        ),
        shareable_summary=(
            "Thank you for meeting the team. They valued your audit background, and chose a "
            "candidate with more hands-on experience of group consolidation."
        ),
    )
    await a.move(samuel, Stage.rejected, said + timedelta(hours=2), reason="Client declined")

    # Offer: a panel, then an offer with an approved summary the candidate may read.
    start = a.slot("brightwater", -7, time(13))
    mateusz = await a.submit("mateusz", "dataplatform", start - timedelta(days=7))
    await a.move(mateusz, Stage.interview_scheduled, start - timedelta(days=5))
    held = await a.interview(
        mateusz,
        InterviewKind.panel,
        starts_at=start,
        minutes=120,
        # Jonas asked not to be contacted: a thank-you note to him is withheld (R-CP-2).
        interviewers=("katrin", "jonas"),
        held=True,
        location="Brightwater Energie, Berlin office",
        stated_decision_date=a.business_date("brightwater", -4),
    )
    await a.move(mateusz, Stage.interviewed, held.ends_at + timedelta(hours=1))
    said = a.slot("brightwater", -4, time(16))
    offer = await a.feedback_for(
        mateusz,
        Decision.offer,
        received_at=said,
        interview=held,
        internal_notes=(
            "Budget approved up to EUR 85k. Katrin wants a start on the 1st; Jonas thinks he "
            "will ask for more, so hold firm on base and move on the signing bonus."
        ),
        shareable_summary=(
            "The panel enjoyed meeting you and would like to offer you the role. "
            "Your recruiter will call you with the details."
        ),
    )
    await a.move(mateusz, Stage.offer, said + timedelta(hours=1))

    # Placed: two rounds (interviewed -> interview_scheduled is the further-round move, R-ST).
    first = a.slot("meridian", -22, time(10))
    ethan = await a.submit("ethan", "robotics", first - timedelta(days=5))
    await a.move(ethan, Stage.interview_scheduled, first - timedelta(days=3))
    held = await a.interview(
        ethan,
        InterviewKind.video,
        starts_at=first,
        minutes=60,
        interviewers=("daniel",),
        held=True,
        location="Video call",
    )
    await a.move(ethan, Stage.interviewed, held.ends_at + timedelta(hours=1))
    said = a.slot("meridian", -20, time(12))
    await a.feedback_for(
        ethan,
        Decision.advance,
        received_at=said,
        interview=held,
        internal_notes=(
            "Strong on motion planning, shaky on the C++ memory model. Rebecca wants the "
            "systems team to grill him before she commits."
        ),
    )
    await a.move(ethan, Stage.interview_scheduled, said + timedelta(hours=1), reason="Round 2")
    held = await a.interview(
        ethan,
        InterviewKind.onsite,
        starts_at=a.slot("meridian", -16, time(9, 30)),
        minutes=180,
        interviewers=("rebecca", "daniel"),
        held=True,
        location="Client site (address from your recruiter)",
    )
    await a.move(ethan, Stage.interviewed, held.ends_at + timedelta(hours=1))
    said = a.slot("meridian", -14, time(11))
    await a.feedback_for(
        ethan,
        Decision.offer,
        received_at=said,
        interview=held,
        internal_notes="USD 182k base plus equity. Never name the project to him in writing.",
    )
    await a.move(ethan, Stage.offer, said + timedelta(minutes=30))
    await a.move(
        ethan, Stage.placed, a.slot("meridian", -9, time(10)), reason="Offer accepted in writing"
    )

    # Withdrawn, by the candidate, before any interview.
    tobias = await a.submit("tobias", "payroll", a.ago(days=9, hours=4))
    await a.move(
        tobias,
        Stage.withdrawn,
        a.ago(days=2, hours=3),
        reason="Accepted a counter-offer from his current employer",
    )
    return offer


async def populate(session: AsyncSession, *, secret: str, now: datetime) -> DemoSummary:
    """Write the demo agency into ``session``, as of ``now``; the caller commits.

    ``secret`` is the key-hashing secret of the server that will read the keys (its
    ``CANDOR_SECRET_KEY``): keys hashed with another secret would never authenticate. ``now``
    must be aware and not later than the wall clock, since services refuse future instants.
    Ends with a flush, so the caller's queries see everything before it commits.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    agency = _Agency(session, now)
    admin_key, integration_key, recruiter_keys = await _people(agency, secret=secret)
    await _directory(agency)
    await _waiting_for_a_first_answer(agency)
    await _interviews_coming_up(agency)
    await _waiting_after_an_interview(agency)
    approved = await _decided(agency)
    await feedback_service.approve_summary(session, SYSTEM, approved)
    await session.flush()
    return DemoSummary(
        admin_key=admin_key,
        integration_key=integration_key,
        recruiter_keys=recruiter_keys,
        recruiters=len(RECRUITERS),
        clients=len(agency.clients),
        contacts=len(agency.contacts),
        jobs=len(agency.jobs),
        candidates=len(agency.candidates),
        submissions=len(agency.submissions),
        interviews=len(agency.interviews),
        feedback=len(agency.feedback),
    )


async def _note_link(session: AsyncSession, settings: Settings, *, now: datetime) -> str | None:
    """A thank-you note link for the latest held interview, so a newcomer can try the portal
    at once (the invitation email itself waits for the candidate's 16:00 slot)."""
    interview = (
        await session.execute(
            select(Interview)
            .where(col(Interview.status) == InterviewStatus.held.value)
            .order_by(col(Interview.ends_at).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if interview is None or interview.id is None:
        return None
    submission = await session.get(Submission, interview.submission_id)
    assert submission is not None
    issued = links.issue(
        settings, candidate_id=submission.candidate_id, interview_id=interview.id, now=now
    )
    await session.execute(insert(CandidateLink.__table__), [issued.row])  # type: ignore[attr-defined]
    return issued.url


async def load_demo(settings: Settings) -> DemoSummary:
    """Load the demo agency into the (freshly migrated) database of ``settings``, in one
    transaction: either the whole agency is there, or nothing is."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            now = utcnow()
            summary = await populate(
                session, secret=settings.secret_key.get_secret_value(), now=now
            )
            summary.note_link = await _note_link(session, settings, now=now)
            await session.commit()
    finally:
        await engine.dispose()
    return summary
