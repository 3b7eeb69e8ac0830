"""R-TY-2/3: the thank-you note transition table on its own, without a database.

The expected transitions are written out literally from the domain text, so a mistake in the
table under test cannot also be a mistake in what the test expects.
"""

from __future__ import annotations

import itertools

import pytest

from app.thank_you import states
from app.thank_you.models import NoteState
from app.thank_you.states import NoteAction

ALL_STATES = ("awaiting_review", "changes_requested", "approved", "withheld")
ALL_ACTIONS = ("resubmit", "approve", "request_changes", "withhold")

#: (from, action) -> to, straight from R-TY-2/3: review decides only a note awaiting review;
#: after changes were asked for, a new version goes back to review; approved/withheld are final.
EXPECTED: dict[tuple[str, str], str] = {
    ("awaiting_review", "approve"): "approved",
    ("awaiting_review", "request_changes"): "changes_requested",
    ("awaiting_review", "withhold"): "withheld",
    ("changes_requested", "resubmit"): "awaiting_review",
}


def test_the_table_covers_every_state_and_action_R_TY_3() -> None:
    assert {s.value for s in NoteState} == set(ALL_STATES)
    assert {a.value for a in NoteAction} == set(ALL_ACTIONS)
    assert {s.value for s in states.TRANSITIONS} == set(ALL_STATES)


@pytest.mark.parametrize(("state", "action"), list(itertools.product(ALL_STATES, ALL_ACTIONS)))
def test_next_state_follows_the_domain_R_TY_3(state: str, action: str) -> None:
    target = states.next_state(NoteState(state), NoteAction(action))
    assert (target.value if target is not None else None) == EXPECTED.get((state, action))


def test_a_new_note_awaits_review_R_TY_2() -> None:
    assert states.INITIAL.value == "awaiting_review"


def test_approved_and_withheld_are_final_R_TY_3() -> None:
    assert {s.value for s in states.FINAL} == {"approved", "withheld"}
    for state in states.FINAL:
        assert states.allowed_actions(state) == ()


def test_every_state_is_reachable_from_a_new_note_R_TY_3() -> None:
    seen, frontier = {states.INITIAL}, [states.INITIAL]
    while frontier:
        for target in states.TRANSITIONS[frontier.pop()].values():
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert {s.value for s in seen} == set(ALL_STATES)
