"""R-TY: what can happen to a thank-you note in each state, as one table.

Consulted by the service for every arrival of a version and every review decision; unit-tested
without a database (``tests/thank_you/test_states.py``). A note starts awaiting review (R-TY-2);
the recruiter approves, asks for changes or withholds it (R-TY-3); after changes were asked for,
the candidate's next version puts it back in review; approved and withheld are final.
"""

from __future__ import annotations

from enum import StrEnum

from app.thank_you.models import NoteState


class NoteAction(StrEnum):
    resubmit = "resubmit"  # the candidate (or the recruiter for them) sends a new version
    approve = "approve"
    request_changes = "request_changes"
    withhold = "withhold"


#: Every new note starts here: it goes to the owner recruiter first (R-TY-2).
INITIAL = NoteState.awaiting_review

TRANSITIONS: dict[NoteState, dict[NoteAction, NoteState]] = {
    NoteState.awaiting_review: {
        NoteAction.approve: NoteState.approved,
        NoteAction.request_changes: NoteState.changes_requested,
        NoteAction.withhold: NoteState.withheld,
    },
    NoteState.changes_requested: {NoteAction.resubmit: NoteState.awaiting_review},
    NoteState.approved: {},
    NoteState.withheld: {},
}

FINAL: frozenset[NoteState] = frozenset(state for state, moves in TRANSITIONS.items() if not moves)


def next_state(state: NoteState, action: NoteAction) -> NoteState | None:
    """The state ``action`` leads to from ``state``, or ``None`` when it is not allowed there."""
    return TRANSITIONS[NoteState(state)].get(action)


def allowed_actions(state: NoteState) -> tuple[NoteAction, ...]:
    return tuple(TRANSITIONS[NoteState(state)])
