"""Every candidate template, read aloud (R-CAND-1, R-CAND-2, R-CAND-4): rendered over every
section kind and every combination of optional facts, each sentence reads as a sentence, every
promising kind says when the candidate hears next, and a digest's subject counts applications.
Pure rendering: no database."""

from __future__ import annotations

import itertools
import re
from datetime import date

import pytest

from app.messaging import outbox
from app.messaging.models import MessageKind, SectionKind
from app.messaging.render import Section, long_date, render_email

NEXT = date(2026, 12, 3)
INTERVIEW = date(2026, 12, 1)
#: Senders' names as deployments set them: none may be pasted into a sentence.
SENDERS = ["Your recruitment team", "Acme Staffing", "the Candor agency"]

OPTIONAL = list(itertools.product([True, False], repeat=3))  # interview date, link, portal


def section(kind: SectionKind, interview: bool, link: bool, portal: bool, app: int = 1) -> Section:
    promising = MessageKind(kind.value) in outbox.PROMISING
    return Section(
        kind=kind.value,
        job_title="Data Engineer",
        client_name="Acme",
        next_date=NEXT if promising else None,
        interview_date=INTERVIEW if interview else None,
        detail="Please mention the project you led."
        if "feedback" in kind or "changes" in kind
        else "",
        link="https://x.example/l/TOKEN" if link else "",
        portal_url="https://x.example/p/TOKEN" if portal else "",
        application=app,
    )


def sentences_read_well(text: str) -> list[str]:
    """What a reader would stumble on: a gap where a value was missing, a doubled word, a
    capital in mid-sentence after a joining word, an empty bracket, a dangling preposition."""
    problems = []
    for pattern, what in [
        (r"  +\S", "double space"),
        (r"\s[.,;:]", "space before punctuation"),
        (r"\(\s*\)", "empty brackets"),
        (r"\b(\w+) \1\b", "doubled word"),
        (r"\b(?:because|by|for|on|with|from|at) [.,]", "dangling preposition"),
        (r"\b(?:because|that|and|but|so) (?:Your|The|A|An) [a-z]", "capital mid-sentence"),
    ]:
        for match in re.finditer(pattern, text):
            problems.append(f"{what}: {match.group(0)!r}")
    return problems


@pytest.mark.parametrize("kind", list(SectionKind))
@pytest.mark.parametrize(("interview", "link", "portal"), OPTIONAL)
def test_every_section_reads_aloud_and_states_its_promise__R_CAND_1_R_CAND_2(
    kind: SectionKind, interview: bool, link: bool, portal: bool
) -> None:
    text = section(kind, interview, link, portal).render()
    assert text, kind
    assert sentences_read_well(text) == []
    if MessageKind(kind.value) in outbox.PROMISING:
        assert f"by {long_date(NEXT)}" in text
    else:
        assert long_date(NEXT) not in text


@pytest.mark.parametrize("sender", SENDERS)
def test_the_footer_never_pastes_the_senders_name_into_a_sentence__R_CAND_5(sender: str) -> None:
    rendered = render_email(
        first_name="Sam",
        sections=[section(SectionKind.no_news, True, False, True)],
        recruiter_name="Rae Recruiter",
        recruiter_email="rae@agency.example",
        agency_name=sender,
        opt_out_url="https://x.example/o/TOKEN",
        portal_url="https://x.example/p/TOKEN",
    )
    for body in (rendered.text, rendered.html):
        assert sender not in body
        assert sentences_read_well(re.sub(r"<[^>]+>", " ", body).replace("  ", " ")) == []
    assert "You receive these updates because we represent you" in rendered.text


# A generated table: digests of 1-3 applications, each with 1-2 sections in any order.
DIGESTS = [
    [(app, kind) for app in range(1, apps + 1) for kind in kinds]
    for apps in (1, 2, 3)
    for kinds in (
        (SectionKind.interview_held, SectionKind.note_invitation),
        (SectionKind.no_news,),
        (SectionKind.rejected, SectionKind.feedback_shared),
    )
]


@pytest.mark.parametrize("digest", DIGESTS)
def test_a_digests_subject_counts_applications_and_each_has_one_section__R_CAND_4(
    digest: list[tuple[int, SectionKind]],
) -> None:
    sections = [
        Section(
            kind=kind.value,
            job_title=f"Role {app}",
            client_name="Acme",
            next_date=NEXT if MessageKind(kind.value) in outbox.PROMISING else None,
            interview_date=INTERVIEW,
            detail="A summary.",
            link="https://x.example/l/T",
            application=app,
        )
        for app, kind in digest
    ]
    rendered = render_email(
        first_name="Sam",
        sections=sections,
        recruiter_name="Rae",
        recruiter_email="rae@agency.example",
        agency_name="Your recruitment team",
        opt_out_url="https://x.example/o/T",
    )
    apps = {app for app, _ in digest}
    if len(apps) == 1:
        assert rendered.subject == "Update on the Role 1 role"
    else:
        assert rendered.subject == f"Updates on {len(apps)} of your applications"
    assert sorted(rendered.parts) == sorted(apps)
    # Each application's text is one block: no other application's words inside it.
    for app, part in rendered.parts.items():
        assert all(f"Role {other} " not in part for other in apps - {app})
        assert part in rendered.text
