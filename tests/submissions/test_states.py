"""R-ST: the transition table on its own, without a database.

The expected moves are written out literally here, from the domain text, so a mistake in the
table under test cannot also be a mistake in what the test expects.
"""

from __future__ import annotations

import itertools

import pytest

from app.submissions import states
from app.submissions.states import Stage

ALL_STAGES: tuple[str, ...] = (
    "submitted",
    "interview_scheduled",
    "interviewed",
    "offer",
    "placed",
    "rejected",
    "withdrawn",
    "closed",
)
OPEN_STAGES: tuple[str, ...] = ("submitted", "interview_scheduled", "interviewed", "offer")
FINAL_STAGES: tuple[str, ...] = ("placed", "rejected", "withdrawn", "closed")

ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("submitted", "interview_scheduled"),
        ("interview_scheduled", "interviewed"),
        ("interviewed", "interview_scheduled"),
        ("interviewed", "offer"),
        ("offer", "placed"),
        ("submitted", "rejected"),
        ("submitted", "withdrawn"),
        ("submitted", "closed"),
        ("interview_scheduled", "rejected"),
        ("interview_scheduled", "withdrawn"),
        ("interview_scheduled", "closed"),
        ("interviewed", "rejected"),
        ("interviewed", "withdrawn"),
        ("interviewed", "closed"),
        ("offer", "rejected"),
        ("offer", "withdrawn"),
        ("offer", "closed"),
    }
)
ALL_PAIRS: list[tuple[str, str]] = list(itertools.product(ALL_STAGES, ALL_STAGES))
REFUSED: list[tuple[str, str]] = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


class TestStagesAreTheEightOfTheDomain:
    def test_stage_enum_has_exactly_the_eight_stages__R_ST(self) -> None:
        assert {stage.value for stage in Stage} == set(ALL_STAGES)

    def test_every_stage_has_a_row_in_the_table__R_ST(self) -> None:
        assert {stage.value for stage in states.TRANSITIONS} == set(ALL_STAGES)

    def test_expected_table_has_seventeen_moves_and_forty_seven_refusals__R_ST(self) -> None:
        # Guards the literal above: 5 forward moves plus 4 open stages x 3 closing stages.
        assert len(ALLOWED) == 17
        assert len(REFUSED) == 64 - 17


class TestAllowedMoves:
    @pytest.mark.parametrize(("from_stage", "to_stage"), sorted(ALLOWED))
    def test_allowed_pair_can_move__R_ST(self, from_stage: str, to_stage: str) -> None:
        assert states.can_move(Stage(from_stage), Stage(to_stage)) is True
        assert Stage(to_stage) in states.allowed_moves(Stage(from_stage))


class TestRefusedMoves:
    @pytest.mark.parametrize(("from_stage", "to_stage"), REFUSED)
    def test_other_pair_cannot_move__R_ST(self, from_stage: str, to_stage: str) -> None:
        assert states.can_move(Stage(from_stage), Stage(to_stage)) is False
        assert Stage(to_stage) not in states.allowed_moves(Stage(from_stage))

    @pytest.mark.parametrize("stage", ALL_STAGES)
    def test_a_stage_cannot_move_to_itself__R_ST(self, stage: str) -> None:
        assert states.can_move(Stage(stage), Stage(stage)) is False


class TestAllowedMovesListPerStage:
    @pytest.mark.parametrize("from_stage", ALL_STAGES)
    def test_allowed_moves_lists_exactly_the_expected_targets__R_ST(self, from_stage: str) -> None:
        expected = {to for (frm, to) in ALLOWED if frm == from_stage}
        listed = [stage.value for stage in states.allowed_moves(Stage(from_stage))]
        assert set(listed) == expected
        assert len(listed) == len(expected), "no target is listed twice"


class TestFinalStages:
    @pytest.mark.parametrize("stage", FINAL_STAGES)
    def test_final_stage_has_no_moves__R_ST(self, stage: str) -> None:
        assert states.allowed_moves(Stage(stage)) == ()

    def test_final_set_is_placed_rejected_withdrawn_closed__R_ST(self) -> None:
        assert {stage.value for stage in states.FINAL} == set(FINAL_STAGES)

    @pytest.mark.parametrize("stage", OPEN_STAGES)
    def test_open_stage_can_close_three_ways__R_ST(self, stage: str) -> None:
        closing = {"rejected", "withdrawn", "closed"}
        assert closing <= {s.value for s in states.allowed_moves(Stage(stage))}
