"""Automatic checks on a thank-you note (R-TY-2). They help the reviewer and never decide.

Pure: a note's text and the names that belong in it go in, findings come out, each with a code,
a plain message and the span of text it is about (``start``/``end`` character offsets; a finding
about the whole note spans all of it). Spelling uses ``pyspellchecker`` (a maintained English
word-frequency dictionary), not a hand-made word list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from spellchecker import SpellChecker

MAX_WORDS = 250
MAX_SPELLING_FINDINGS = 10


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    message: str
    start: int
    end: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


WORD = re.compile("[A-Za-z][A-Za-z'\u2019-]*")
THANKS = re.compile(r"\b(thank|thanks|thankful|grateful|gratitude|appreciate[ds]?)\b", re.I)
INTEREST = re.compile(
    r"\b(interested|interest in|excited|keen|enthusiastic|eager|look(ing)? forward|"
    r"would love to|would be glad to|would welcome the chance|motivated)\b",
    re.I,
)
PRESSURE = re.compile(
    r"when will i hear|when can i expect|i need an answer|need (a|your) decision|\basap\b|"
    r"as soon as possible|\burgent(ly)?\b|by the end of (the )?(day|week)|!{2,}",
    re.I,
)
PLACEHOLDER = re.compile(
    r"\[[^\]\n]{1,40}\]|\{\{?[^}\n]{1,40}\}?\}|<[A-Za-z _]{1,40}>|\bX{2,}\b|\bTBD\b|\bINSERT\b"
)
#: Words after which a person's name follows: "Dear Ana", "Hi Mr Lee", "thank you, Ana".
GREETING = re.compile(
    r"\b(?:dear|hi|hello|hey|greetings)\s+(?:(?:mr|mrs|ms|miss|dr|prof)\.?\s+)?"
    r"([A-Z][A-Za-z'\u2019-]+)",
    re.I,
)
TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+([A-Z][A-Za-z'\u2019-]+)")


@cache
def _speller() -> SpellChecker:
    return SpellChecker(language="en", distance=1)


def _whole(text: str, code: str, message: str) -> Finding:
    return Finding(code, message, 0, len(text))


def _name_parts(names: Iterable[str]) -> set[str]:
    return {part.lower() for name in names for part in WORD.findall(name)}


def check_note(
    text: str,
    *,
    interviewer_names: Iterable[str],
    other_known_names: Iterable[str] = (),
) -> list[Finding]:
    """Every finding on ``text``, in order of where it starts.

    ``interviewer_names`` are the people the note is for (R-TY-5): a name the note addresses that
    is not among them is flagged. ``other_known_names`` (the candidate, the recruiter, the client,
    the job title) are never spelling mistakes.
    """
    findings: list[Finding] = []
    interviewers = _name_parts(interviewer_names)
    known = interviewers | _name_parts(other_known_names)
    if not THANKS.search(text):
        findings.append(_whole(text, "no_thanks", "The note does not thank the interviewer."))
    if not INTEREST.search(text):
        findings.append(
            _whole(text, "no_interest", "The note does not say the candidate is still interested.")
        )
    words = list(WORD.finditer(text))
    if len(words) > MAX_WORDS:
        findings.append(
            Finding(
                "too_long",
                f"{len(words)} words: a thank-you note reads best under {MAX_WORDS}.",
                words[MAX_WORDS].start(),
                len(text),
            )
        )
    for match in PRESSURE.finditer(text):
        findings.append(
            Finding(
                "pressure",
                f"“{match.group(0)}” may read as pressure on the interviewer.",
                match.start(),
                match.end(),
            )
        )
    for match in PLACEHOLDER.finditer(text):
        findings.append(
            Finding(
                "placeholder",
                f"“{match.group(0)}” looks like a placeholder left in.",
                match.start(),
                match.end(),
            )
        )
    seen_names: set[int] = set()
    for pattern in (GREETING, TITLED):
        for match in pattern.finditer(text):
            name = match.group(1)
            if match.start(1) in seen_names or name.lower() in interviewers:
                continue
            seen_names.add(match.start(1))
            findings.append(
                Finding(
                    "unknown_name",
                    f"“{name}” is not one of the interviewers of this interview.",
                    match.start(1),
                    match.end(1),
                )
            )
    findings.extend(_spelling(text, words, known))
    return sorted(findings, key=lambda f: (f.start, f.code))


def _spelling(text: str, words: list[re.Match[str]], known: set[str]) -> list[Finding]:
    """Unknown lower-case words (capitalised ones are likely names, acronyms or brands)."""
    speller = _speller()
    candidates = [
        m
        for m in words
        if m.group(0)[0].islower()
        and len(m.group(0)) > 2
        and m.group(0).lower().strip("'\u2019-") not in known
    ]
    unknown = speller.unknown([m.group(0).lower().strip("'\u2019-") for m in candidates])
    found: list[Finding] = []
    for match in candidates:
        word = match.group(0).lower().strip("'\u2019-")
        if word not in unknown:
            continue
        suggestion = speller.correction(word)
        hint = f" Did you mean “{suggestion}”?" if suggestion and suggestion != word else ""
        found.append(
            Finding(
                "spelling", f"“{match.group(0)}” may be misspelt.{hint}", match.start(), match.end()
            )
        )
        if len(found) >= MAX_SPELLING_FINDINGS:
            break
    return found
