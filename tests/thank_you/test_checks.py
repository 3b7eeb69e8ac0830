"""Each automatic check on a thank-you note (R-TY-2), with notes that should and should not
trigger it. The checks only inform the reviewer: they never decide."""

from __future__ import annotations

import pytest

from app.thank_you.checks import MAX_WORDS, check_note

INTERVIEWERS = ["Hana Hiring", "Ivan Petrov"]
GOOD = (
    "Dear Hana,\n\nThank you for meeting me on Tuesday. I enjoyed hearing about the data "
    "platform, and I am very interested in the role.\n\nBest regards,\nSam"
)


def codes(text: str) -> list[str]:
    return [f.code for f in check_note(text, interviewer_names=INTERVIEWERS)]


def test_a_good_note_has_no_findings__R_TY_2() -> None:
    assert check_note(GOOD, interviewer_names=INTERVIEWERS, other_known_names=["Sam"]) == []


class TestThanks:
    @pytest.mark.parametrize("text", ["Many thanks for your time.", "I appreciated the chat."])
    def test_thanks_in_any_form_passes__R_TY_2(self, text: str) -> None:
        assert "no_thanks" not in codes(text + " I am keen on the role.")

    def test_a_note_without_thanks_is_flagged_over_its_whole_text__R_TY_2(self) -> None:
        text = "I am keen on the role."
        [finding] = [f for f in check_note(text, interviewer_names=[]) if f.code == "no_thanks"]
        assert (finding.start, finding.end) == (0, len(text))


class TestInterest:
    @pytest.mark.parametrize(
        "text", ["I am excited about the role.", "I look forward to the next step."]
    )
    def test_stated_interest_passes__R_TY_2(self, text: str) -> None:
        assert "no_interest" not in codes("Thank you. " + text)

    def test_a_note_without_interest_is_flagged__R_TY_2(self) -> None:
        assert "no_interest" in codes("Thank you for your time.")


class TestLength:
    def test_over_250_words_is_flagged_from_the_first_word_too_many__R_TY_2(self) -> None:
        text = "Thank you, I am interested. " + "word " * MAX_WORDS
        [finding] = [f for f in check_note(text, interviewer_names=[]) if f.code == "too_long"]
        assert finding.start == len("Thank you, I am interested. ") + len("word ") * (MAX_WORDS - 5)
        assert finding.end == len(text)

    def test_exactly_250_words_passes__R_TY_2(self) -> None:
        text = "Thank you, I am interested. " + "word " * (MAX_WORDS - 5)
        assert "too_long" not in codes(text)


class TestPressure:
    @pytest.mark.parametrize(
        ("phrase", "found"),
        [
            ("When will I hear back?", "When will I hear"),
            ("I need an answer soon.", "I need an answer"),
            ("Please reply ASAP.", "ASAP"),
            ("Great to meet you!!", "!!"),
            ("Please decide as soon as possible.", "as soon as possible"),
        ],
    )
    def test_pressure_phrases_are_flagged_with_their_span__R_TY_2(
        self, phrase: str, found: str
    ) -> None:
        text = GOOD + " " + phrase
        [finding] = [
            f for f in check_note(text, interviewer_names=INTERVIEWERS) if f.code == "pressure"
        ]
        assert text[finding.start : finding.end] == found

    def test_a_single_exclamation_and_asap_inside_a_word_pass__R_TY_2(self) -> None:
        assert "pressure" not in codes(GOOD + " It was great to meet you! The wasapp idea too.")


class TestPlaceholders:
    @pytest.mark.parametrize("placeholder", ["[Name]", "{first_name}", "<COMPANY>", "XXX"])
    def test_placeholders_are_flagged__R_TY_2(self, placeholder: str) -> None:
        text = GOOD.replace("Hana", placeholder)
        found = [
            f for f in check_note(text, interviewer_names=INTERVIEWERS) if f.code == "placeholder"
        ]
        assert [text[f.start : f.end] for f in found] == [placeholder]

    def test_brackets_in_ordinary_prose_are_rare_but_a_year_in_parentheses_passes__R_TY_2(
        self,
    ) -> None:
        assert "placeholder" not in codes(GOOD + " (since 2019)")


class TestNames:
    def test_a_greeting_to_someone_not_at_the_interview_is_flagged__R_TY_2(self) -> None:
        text = GOOD.replace("Dear Hana", "Dear Bob")
        [finding] = [
            f for f in check_note(text, interviewer_names=INTERVIEWERS) if f.code == "unknown_name"
        ]
        assert text[finding.start : finding.end] == "Bob"

    @pytest.mark.parametrize(
        "greeting", ["Dear Hana", "Hi Ivan", "Dear Mr Petrov", "Hello Dr. Hiring"]
    )
    def test_interviewers_by_first_or_last_name_pass__R_TY_2(self, greeting: str) -> None:
        assert "unknown_name" not in codes(GOOD.replace("Dear Hana", greeting))


class TestSpelling:
    def test_a_misspelt_word_is_flagged_with_a_suggestion__R_TY_2(self) -> None:
        text = GOOD.replace("platform", "platfrom")
        [finding] = [
            f for f in check_note(text, interviewer_names=INTERVIEWERS) if f.code == "spelling"
        ]
        assert text[finding.start : finding.end] == "platfrom"
        assert "platform" in finding.message

    def test_names_brands_and_known_words_are_not_spelling_mistakes__R_TY_2(self) -> None:
        text = GOOD + " I used Kubernetes and Snowflake at Zyxcorp with datadog."
        found = check_note(
            text, interviewer_names=INTERVIEWERS, other_known_names=["Zyxcorp", "datadog"]
        )
        assert [f.code for f in found] == []
