"""The opening test never turns away a word where its phrase matches.

:func:`triage.vocabulary.opening_test` lets a phrase whose first words cannot be listed be
tried only at the words that pass it. That is a shortcut only if it is safe: wherever the
phrase matches, the test must pass on the text it is shown there (see PhraseGroup and
Alternation). Here every phrase of every vocabulary is checked at every word of varied
reports, and the rewriting itself on small expressions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import pytest

from triage.classifier import _vocabulary
from triage.emergency import emergency_vocabulary
from triage.hate import _composition_group
from triage.text import normalise
from triage.vocabulary import opening_test

from .test_vocabulary_engine import REPORTS

MORE_REPORTS = [
    "10 mins ago he came back with 2 mates, it was 30 degrees, 5 times this week",
    "my 7 year old was on the window ledge, 12 cats and 3 dogs in there, 1st birthday do",
    "he called me a f***ing paki, you black b*****d, her two mums, his boyfriends partner",
    "its just the football, they just scored, city scored again, a few minutes ago",
    "money went missing, £ 50 has gone missing, they are all like the rest of them",
    "a man with learning disabilities who lives alone, an old woman living with dementia",
]


@lru_cache(maxsize=1)
def _phrases() -> list[tuple[re.Pattern[str], Callable[[str], object]]]:
    """The phrases tried word by word, and every seventh of the others (the rewriting of
    all of them takes half a minute), each with its opening test."""
    groups = [_vocabulary().words, _composition_group()]
    anywhere = {phrase.pattern.pattern for group in groups for phrase in group._anywhere}
    patterns = [
        " (?:" + pattern + ")(?= )"
        for group in groups
        for table in group.tables
        for pattern, _, _ in table.phrases
    ]
    chosen = [
        pattern
        for number, pattern in enumerate(patterns)
        if pattern in anywhere or number % 7 == 0
    ]
    return [
        (re.compile(pattern), test)
        for pattern in chosen
        if (test := opening_test(pattern)) is not None
    ]


@pytest.mark.parametrize("report", REPORTS + MORE_REPORTS)
def test_phrases_pass_their_opening_test_wherever_they_match(report: str) -> None:
    text = normalise(report).text
    padded = f" {text} "
    starts = [0] + [at + 1 for at, char in enumerate(text) if char == " "]
    tokens = text.split(" ")
    for phrase, test in _phrases():
        for start, token in zip(starts, tokens, strict=True):
            if phrase.match(padded, start):
                assert test(f" {token} "), (phrase.pattern[:200], token)


@pytest.mark.parametrize("report", REPORTS + MORE_REPORTS)
def test_markers_pass_their_opening_test_wherever_they_match(report: str) -> None:
    vocabulary = emergency_vocabulary()
    text = normalise(report).text
    markers = (
        vocabulary.now_markers,
        vocabulary.past_markers,
        vocabulary.future_markers,
        vocabulary.retractions,
    )
    for alternation in markers:
        for match in alternation._matchers:
            phrase = match.__self__  # type: ignore[attr-defined]
            test = opening_test(phrase.pattern)
            if test is None:
                continue
            at = 0
            for word in text.split(" "):
                if phrase.match(text, at):
                    assert test(word) or test(word + " "), (phrase.pattern[:200], word)
                at += len(word) + 1


@pytest.mark.parametrize(
    ("pattern", "passes", "fails"),
    [
        (r" (?:\d+ times)(?= )", [" 3 ", " 30 ", " 3"], [" x ", " three "]),
        (r" (?:(\w+s) (partner|wife))(?= )", [" mums ", " his "], [" mum ", " 3 "]),
        (r" (?:(?<=x)a[^ ]{2,} b)", [" abc ", " a", " abcd b"], [" ab ", " b ", " abc c"]),
        (r" (?:(a |the )?(\w+ ){0,2}man)", [" a ", " any ", " "], []),
        (r" (?:(?!no)n\w+ (?=yes)y)", [" no ", " nab "], [" ab "]),
        (r" (?:[^a-c.]x|\.)", [" dx ", " . ", " ."], [" ax ", " bx ", " c"]),
        (r" (?:x+?y{2}|z*?)", [" x ", " xxyy ", " ", " q"], []),
    ],
)
def test_opening_test_reads_only_the_beginning(
    pattern: str, passes: list[str], fails: list[str]
) -> None:
    test = opening_test(pattern)
    assert test is not None
    for text in passes:
        assert test(text), text
    for text in fails:
        assert not test(text), text


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?i:a)b", r"(?>ab)", r"a++"])
def test_no_opening_test_for_what_it_cannot_rewrite(pattern: str) -> None:
    assert opening_test(pattern) is None
