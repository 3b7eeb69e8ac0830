"""Status emails rendered from Jinja2 templates (text and HTML, autoescaped HTML).

One email is a greeting, one section per application (several in a digest: R-CAND-4 speaks of each
application once), and a sign-off. An application's section is its status, followed by what else
is for it (a note invitation, shared feedback). Only
candidate-safe facts reach a template (R-CAND-6): the job title, the client's name unless it is
confidential, dates; never internal notes or unapproved feedback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache, update_wrapper
from typing import Any, Final

from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateRuntimeError,
    select_autoescape,
)
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

log = logging.getLogger("candor.templates")

CONFIDENTIAL_CLIENT = "our client"


@cache
def _env() -> Environment:
    environment = Environment(
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
    # Packaged templates read only the values they are given (a test parses every one): with
    # no globals (``range``, ``namespace`` …), a render does not copy them into a new context
    # each time, which was a quarter of composing an email.
    environment.globals.clear()
    return environment


#: The most characters one rendered section may have (R-IN). A section holds at most a shared
#: feedback summary (20 000 characters) plus the template's own words (5 000), so this is room to
#: spare for any honest template, and a bound on what one email can weigh.
MAX_SECTION_CHARS: Final = 50_000
_NUMBERS = re.compile(r"\d+")


class TemplateTooLarge(TemplateRuntimeError):
    """A template's output would exceed ``MAX_SECTION_CHARS``."""

    def __init__(self) -> None:
        super().__init__(f"the output would exceed {MAX_SECTION_CHARS} characters")


def _check_size(value: Any) -> None:
    """Refuse a number that could make a bigger output than the bound in one step: a
    repetition count, a width, a power, an argument to a filter or a function."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SECTION_CHARS:
        raise TemplateTooLarge()


def _check_format(spec: Any) -> None:
    """A ``%``- or ``str.format`` string whose widths or precisions exceed the bound."""
    if isinstance(spec, str):
        for number in _NUMBERS.findall(spec):
            if len(number) > 6 or int(number) > MAX_SECTION_CHARS:
                raise TemplateTooLarge()


def _bounded_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            _check_size(value)
        return function(*args, **kwargs)

    return update_wrapper(bounded, function)


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox, with no step that can build more than ``MAX_SECTION_CHARS`` at once: the
    output is also bounded as it streams (see ``Section._bounded``), but ``{{ 'ab' * 5000000 }}`` or
    ``{{ 'a'|center(10**9) }}`` would allocate it all before the first chunk is seen."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(f) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*" and isinstance(left, str | list | tuple) and isinstance(right, int):
            _check_size(len(left) * right)
        elif operator == "*" and isinstance(right, str | list | tuple) and isinstance(left, int):
            _check_size(len(right) * left)
        elif operator == "**":
            _check_size(right)
        elif operator == "%":
            _check_format(left)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            _check_size(value)
        method = getattr(__obj, "__wrapped__", __obj)
        if getattr(method, "__name__", "") in ("format", "format_map"):
            _check_format(getattr(method, "__self__", None))
        return super().call(__context, __obj, *args, **kwargs)


@cache
def _packaged(name: str) -> Template:
    """A packaged template, looked up once (the drain renders three per email). Its globals are
    a plain empty dict: a new context reads their names, and an empty chain of the template's
    and the environment's (none either way) costs more to walk than the render's own work."""
    template = _env().get_template(name)
    template.globals = {}
    return template


def _fill(template: Template, values: dict[str, Any]) -> Iterator[str]:
    """A packaged template's output, streamed, with the values themselves as its context
    (``shared=True``: no copy of them per render; the environment has no globals to add)."""
    context = template.new_context(values, shared=True)
    try:
        yield from template.root_render_func(context)
    except Exception:
        yield template.environment.handle_exception()


def _render_packaged(name: str, values: dict[str, Any]) -> str:
    return "".join(_fill(_packaged(name), values))


@cache
def _sandbox() -> SandboxedEnvironment:
    """Admin-written templates run sandboxed: no attribute tricks reach Python objects, and no
    output grows past ``MAX_SECTION_CHARS``."""
    return _BoundedSandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True)


def default_source(kind: str) -> str:
    """The packaged template of a section kind (what an override replaces)."""
    loader = _env().loader
    assert loader is not None
    source, _, _ = loader.get_source(_env(), f"{kind}.txt.j2")
    return source


@lru_cache(maxsize=512)
def long_date(day: date) -> str:
    """ "Thursday 3 December": plain words, no ambiguous numeric formats. Cached: the emails of
    one drain name few distinct days."""
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
        return self._bounded(_fill(_packaged(f"{self.kind}.txt.j2"), self._values()))

    def render_strictly(self, override: str) -> str:
        """Render an admin's override, raising on any error (used to vet it before saving).
        Overrides run in the sandbox with its globals (a new context per render)."""
        return self._bounded(_compiled_override(override).generate(self._values()))

    def _values(self) -> dict[str, Any]:
        return {
            "job_title": self.job_title,
            "client_name": self.client_name,
            "next_date": long_date(self.next_date) if self.next_date else "",
            "interview_date": long_date(self.interview_date) if self.interview_date else "",
            "detail": self.detail,
            "link": self.link,
            "portal_url": self.portal_url,
        }

    @staticmethod
    def _bounded(output: Iterator[str]) -> str:
        """Streamed, so an output past ``MAX_SECTION_CHARS`` stops there (``TemplateTooLarge``,
        and the caller falls back to the default wording) instead of growing an email."""
        chunks: list[str] = []
        size = 0
        for chunk in output:
            size += len(chunk)
            if size > MAX_SECTION_CHARS:
                raise TemplateTooLarge()
            chunks.append(chunk)
        return "".join(chunks).strip()


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
        text=_render_packaged("email.txt.j2", context).strip() + "\n",
        html=_render_packaged("email.html.j2", context),
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
        text=_render_packaged(f"{kind}.txt.j2", context).strip() + "\n",
        html=_render_packaged(f"{kind}.html.j2", context),
    )
