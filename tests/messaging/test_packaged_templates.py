"""Packaged templates render with no environment globals (issue 14: a render no longer copies
``range``, ``namespace`` … into a new context per email), so none may read one: each template
reads only the values its renderer passes. Generated over every packaged template file, so a
new template is checked at once (R-CAND-6: only candidate-safe facts reach a template)."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import UndefinedError, meta
from jinja2.defaults import DEFAULT_NAMESPACE

from app.messaging import render
from app.messaging.render import Section

TEMPLATES = sorted((Path(render.__file__).parent / "templates").glob("*.j2"))

#: What each renderer passes (``Section._values``, ``render_email``, ``render_contact_email``).
SECTION_VALUES = set(Section(kind="no_news", job_title="t", client_name="c")._values())
EMAIL_VALUES = {
    "first_name",
    "sections",
    "recruiter_name",
    "recruiter_email",
    "agency_name",
    "opt_out_url",
    "portal_url",
}
CONTACT_VALUES = {
    "contact_name",
    "candidate_name",
    "interview_date",
    "note_text",
    "recruiter_name",
    "recruiter_email",
    "agency_name",
    "items",
}


def values_for(name: str) -> set[str]:
    if name.startswith("email."):
        return EMAIL_VALUES
    if name.startswith(("thank_you_note.", "client_nudge.")):
        return CONTACT_VALUES
    return SECTION_VALUES


def test_every_template_file_is_checked() -> None:
    assert len(TEMPLATES) >= 15


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_a_packaged_template_reads_only_what_its_renderer_passes__R_CAND_6(path: Path) -> None:
    environment = render._env()
    assert environment.globals == {}
    read = meta.find_undeclared_variables(environment.parse(path.read_text()))
    assert not read & set(DEFAULT_NAMESPACE), f"{path.name} reads a Jinja global"
    assert read <= values_for(path.name), f"{path.name} reads {read - values_for(path.name)}"


def test_a_failing_packaged_render_raises_with_the_template_in_its_traceback() -> None:
    """The fast path keeps Jinja's error handling: a value missing is an error (never an empty
    gap in an email), raised with the template's own line in the traceback."""
    with pytest.raises(UndefinedError) as raised:
        render._render_packaged("email.html.j2", {"first_name": "Sam"})
    assert any(str(entry.path).endswith("email.html.j2") for entry in raised.traceback)
