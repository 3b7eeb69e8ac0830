"""Status emails rendered from Jinja2 templates (text and HTML, autoescaped HTML).

One email is a greeting, one section per application (several in a digest: R-CAND-4 speaks of each
application once), and a sign-off. An application's section is its status, followed by what else
is for it (a note invitation, shared feedback). Only
candidate-safe facts reach a template (R-CAND-6): the job title, the client's name unless it is
confidential, dates; never internal notes or unapproved feedback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache

from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    Template,
    TemplateError,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

log = logging.getLogger("candor.templates")

CONFIDENTIAL_CLIENT = "our client"


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("app.messaging", "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2"), default_for_string=False
        ),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        # Packaged templates never change under a running process: no stat() of the template
        # file on every render (the drain renders three templates per email).
        auto_reload=False,
    )


@cache
def _sandbox() -> SandboxedEnvironment:
    """Admin-written templates run sandboxed: no attribute tricks reach Python objects."""
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)


def default_source(kind: str) -> str:
    """The packaged template of a section kind (what an override replaces)."""
    loader = _env().loader
    assert loader is not None
    source, _, _ = loader.get_source(_env(), f"{kind}.txt.j2")
    return source


def long_date(day: date) -> str:
    """ "Thursday 3 December": plain words, no ambiguous numeric formats."""
    return f"{day:%A} {day.day} {day:%B}"


@lru_cache(maxsize=64)
def _compiled_override(source: str) -> Template:
    """An admin's template, compiled once per distinct text (not once per email); a reworded
    template is a new key, so an edit takes effect at once."""
    return _sandbox().from_string(source)


@dataclass(frozen=True, slots=True)
class Section:
    kind: str
    job_title: str
    client_name: str
    next_date: date | None = None
    interview_date: date | None = None
    detail: str = ""  # recruiter-approved words: a change request's comment, a feedback summary
    link: str = ""  # the section's own private link (a note invitation's)
    portal_url: str = ""  # the email's private link to the candidate's page
    application: int = 0  # the submission it is about: one section per application

    def render(self, override: str | None = None) -> str:
        """The section's text, from the packaged template or an admin's override of it."""
        if override is not None:
            try:
                return self.render_strictly(override)
            except TemplateError:
                # Overrides are checked when saved; should one still fail, the candidate gets
                # the default wording rather than no email at all.
                log.warning("template override for %s failed; default used", self.kind)
        return self._render(_env().get_template(f"{self.kind}.txt.j2"))

    def render_strictly(self, override: str) -> str:
        """Render an admin's override, raising on any error (used to vet it before saving)."""
        return self._render(_compiled_override(override))

    def _render(self, template: Template) -> str:
        return template.render(
            job_title=self.job_title,
            client_name=self.client_name,
            next_date=long_date(self.next_date) if self.next_date else "",
            interview_date=long_date(self.interview_date) if self.interview_date else "",
            detail=self.detail,
            link=self.link,
            portal_url=self.portal_url,
        ).strip()


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str
    #: Each application's own section text (what a merged message said for its submission).
    parts: Mapping[int, str] = field(default_factory=dict)


def render_email(
    *,
    first_name: str,
    sections: list[Section],
    overrides: Mapping[str, str] | None = None,
    recruiter_name: str,
    recruiter_email: str,
    agency_name: str,
    opt_out_url: str,
    portal_url: str = "",
) -> Rendered:
    parts: dict[int, list[str]] = {}
    titles: dict[int, str] = {}
    for section in sections:
        text = section.render((overrides or {}).get(section.kind))
        parts.setdefault(section.application, []).append(text)
        titles.setdefault(section.application, section.job_title)
    texts = ["\n\n".join(paragraphs) for paragraphs in parts.values()]
    context = {
        "first_name": first_name,
        "sections": texts,
        "recruiter_name": recruiter_name,
        "recruiter_email": recruiter_email,
        "agency_name": agency_name,
        "opt_out_url": opt_out_url,
        "portal_url": portal_url,
    }
    # R-CAND-4: the subject counts applications, not sections.
    if len(titles) == 1:
        [title] = titles.values()
        subject = f"Update on the {title} role"
    else:
        subject = f"Updates on {len(titles)} of your applications"
    return Rendered(
        subject=subject,
        text=_env().get_template("email.txt.j2").render(**context).strip() + "\n",
        html=_env().get_template("email.html.j2").render(**context),
        parts=dict(zip(parts, texts, strict=True)),
    )


def render_contact_email(
    kind: str,
    *,
    subject: str,
    contact_name: str,
    candidate_name: str,
    interview_date: date | None,
    note_text: str,
    recruiter_name: str,
    recruiter_email: str,
    agency_name: str,
    items: list[dict[str, str]],
) -> Rendered:
    """An email to a client contact: an approved thank-you note (``thank_you_note``) or a
    decision nudge digest (``client_nudge``, one item per candidate)."""
    context = {
        "contact_name": contact_name,
        "candidate_name": candidate_name,
        "interview_date": long_date(interview_date) if interview_date else "",
        "note_text": note_text,
        "recruiter_name": recruiter_name,
        "recruiter_email": recruiter_email,
        "agency_name": agency_name,
        "items": items,
    }
    return Rendered(
        subject=subject,
        text=_env().get_template(f"{kind}.txt.j2").render(**context).strip() + "\n",
        html=_env().get_template(f"{kind}.html.j2").render(**context),
    )
