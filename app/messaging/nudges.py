"""Client nudges (R-CP-2/3): a chase check also emails the job's primary contact asking for a
decision, where the client allows automated nudges and the contact is ``open`` and did not ask
not to be chased. The sweep writes the rows in its own transaction, from the facts it has already
loaded for the fired checks (one bulk write with the rest); the contact outbox applies the gate
again when sending (policies may change meanwhile), keeps to one nudge per submission per 2
business days and bundles a contact's day into one digest.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from app.clients.models import ContactPolicy
from app.messaging import outbox
from app.messaging.models import Audience, MessageKind
from app.sla.models import CheckKind
from app.submissions.states import FINAL


class FiredCheck(Protocol):
    """What the sweep knows of one fired check, as far as a nudge is concerned (its row; read
    only, so a named tuple answers it)."""

    @property
    def kind(self) -> str: ...

    @property
    def due_at(self) -> datetime: ...

    @property
    def submission_id(self) -> int: ...

    @property
    def candidate_id(self) -> int: ...

    @property
    def stage(self) -> str: ...

    @property
    def primary_contact_id(self) -> int | None: ...

    @property
    def contact_policy(self) -> str | None: ...

    @property
    def no_chase(self) -> bool | None: ...

    @property
    def allow_automated_nudges(self) -> bool: ...


#: Read for every fired check: an enum member's ``.value`` is a descriptor call.
_SILENCE = CheckKind.silence.value
_OPEN = ContactPolicy.open.value


def may_nudge(check: FiredCheck) -> bool:
    """A chase (not a silence) of a live submission, to an ``open`` contact who may be chased,
    at a client that allows automated nudges (R-CP-2/3)."""
    return (
        check.kind != _SILENCE
        and check.stage not in FINAL
        and check.primary_contact_id is not None
        and check.allow_automated_nudges
        and check.contact_policy == _OPEN
        and check.no_chase is False
    )


def rows_for(checks: Iterable[FiredCheck], *, now: datetime) -> list[dict[str, Any]]:
    """One pending nudge message per fired check that may nudge its contact (the columns and
    their order of ``outbox.status_row``, so both go in one bulk write)."""
    return [
        outbox.status_row(
            kind=MessageKind.client_nudge,
            submission_id=check.submission_id,
            candidate_id=check.candidate_id,
            due_at=check.due_at,
            reason="chase check: decision nudge",
            contact_id=check.primary_contact_id,
        )
        | {"audience": Audience.contact.value, "created_at": now, "updated_at": now}
        for check in checks
        if may_nudge(check)
    ]
