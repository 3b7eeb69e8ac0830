"""R-ST: the submission stages and the one table of allowed moves.

Consulted by the service for every move; unit-tested without a database. A refused move names the
allowed ones, straight from this table.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    submitted = "submitted"
    interview_scheduled = "interview_scheduled"
    interviewed = "interviewed"
    offer = "offer"
    placed = "placed"
    rejected = "rejected"
    withdrawn = "withdrawn"
    closed = "closed"


#: Closing moves open to every open stage: by the client, by the candidate, or no decision.
CLOSING: tuple[Stage, ...] = (Stage.rejected, Stage.withdrawn, Stage.closed)

TRANSITIONS: dict[Stage, tuple[Stage, ...]] = {
    Stage.submitted: (Stage.interview_scheduled, *CLOSING),
    Stage.interview_scheduled: (Stage.interviewed, *CLOSING),
    # A further round goes back to interview_scheduled.
    Stage.interviewed: (Stage.interview_scheduled, Stage.offer, *CLOSING),
    Stage.offer: (Stage.placed, *CLOSING),
    Stage.placed: (),
    Stage.rejected: (),
    Stage.withdrawn: (),
    Stage.closed: (),
}

FINAL: frozenset[Stage] = frozenset(stage for stage, moves in TRANSITIONS.items() if not moves)

#: R-SLA: entering one of these starts the submission's clock.
WAITING: frozenset[Stage] = frozenset({Stage.submitted, Stage.interviewed})


def allowed_moves(stage: Stage) -> tuple[Stage, ...]:
    return TRANSITIONS[stage]


def can_move(from_stage: Stage, to_stage: Stage) -> bool:
    return to_stage in TRANSITIONS[from_stage]
