"""The sweep reads each fired check's facts into ``Fired``, a named tuple built by position from
``_facts``' columns (issue 14: a SQLAlchemy row answers an attribute by a failed lookup first).
A column added, dropped or moved in the one without the other would shift every fact of every
check silently (R-SLA-6: a chase naming the wrong contact); this keeps them in step."""

from __future__ import annotations

from sqlalchemy import select

from app.sla import sweep
from app.sla.models import SlaCheck


def test_fired_fields_are_the_facts_columns_in_order() -> None:
    checks = select(*sweep._CHECK_COLUMNS).where(SlaCheck.id == 0).subquery("fired")  # type: ignore[arg-type]
    columns = [column.name for column in sweep._facts(checks).selected_columns]
    assert list(sweep.Fired._fields) == columns


def test_fired_answers_the_nudge_protocol() -> None:
    """R-CP-2/3: ``nudges.may_nudge`` reads a ``Fired`` as it read a row, nudging only a chase
    of a live submission to an ``open`` contact who may be chased, where the client allows it."""
    from datetime import UTC, datetime

    from app.messaging import nudges

    fired = sweep.Fired(
        id=1,
        kind="first",
        due_at=datetime(2026, 12, 8, 15, tzinfo=UTC),
        breach_at=datetime(2026, 12, 9, 15, tzinfo=UTC),
        submission_id=2,
        owner_id=3,
        candidate_id=4,
        stage="submitted",
        primary_contact_id=5,
        calendar_id=None,
        allow_automated_nudges=True,
        time_zone="America/Chicago",
        contact_policy="open",
        no_chase=False,
    )
    assert nudges.may_nudge(fired)
    assert not nudges.may_nudge(fired._replace(kind="silence"))
    assert not nudges.may_nudge(fired._replace(contact_policy="recruiter_only"))
    assert not nudges.may_nudge(fired._replace(no_chase=True))
    assert not nudges.may_nudge(fired._replace(allow_automated_nudges=False))
    assert not nudges.may_nudge(fired._replace(stage="placed"))
