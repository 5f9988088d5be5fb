"""The phrase engine's and the normaliser's shortcuts change nothing.

:class:`triage.vocabulary.PhraseGroup` tries a phrase only at the words it can start with,
only before the second words it can have, only in a report holding the words it needs, and
through a copy of its expression without capturing groups. Each shortcut must find exactly
what trying every phrase at every word would find; this compares the two on varied reports.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right

import pytest

from triage.classifier import _vocabulary
from triage.emergency import emergency_vocabulary
from triage.text import (
    _CHARACTER_FOLDS,
    _TOKEN_RE,
    _normalised_slowly,
    _shorthand,
    _strip_quoted_history,
    normalise,
)
from triage.vocabulary import Hit, PhraseGroup, negation

REPORTS = [
    "nxt door keeps calling my son a p*ki when he walks past",
    "he just stabbed someone outside the shop by the flats theres blood everywhere",
    "i am disabled and the lads downstairs keep mocking me and calling me names every day",
    "my neighbour is playing loud music every night til 3am and when i asked him 2 stop he "
    "threatened me",
    "Dear Sir, I am writing on behalf of my client, who has a learning disability. Her so "
    "called friends take her money on benefit day and she is scared of them.",
    "the muslim family upstairs play loud music on a saturday afternoon",
    "there are 10 cats living in the flat opposite and the smell is awful",
    "kids having a 7th birthday party in the garden on sunday afternoon",
    "my two mums were called names by the man at number 4",
    "he didnt have a knife, no one is hurt, but he was shouting and banging on my door",
    "Someone has sprayed a swastika on the garages. The bins are overflowing again. "
    "Youths on bikes doing wheelies in the car park at midnight!!",
    "the dog from 37 went for the postman and bit him, there was blood",
    "i'm 82, on my own, and the man next door keeps threatening to burn my house down",
    "",
]


def _every_word(group: PhraseGroup, text: str) -> set[tuple[int, Hit]]:
    """Every phrase tried at every word (and scanned for, where it has no first word)."""
    padded = f" {text} "
    starts = [0] + [at + 1 for at, char in enumerate(text) if char == " "]
    anywhere = {phrase.pattern.pattern for phrase in group._anywhere}
    found: set[tuple[int, Hit]] = set()
    for number, table in enumerate(group.tables):
        for pattern, weight, tag in table.phrases:
            compiled = re.compile(" (?:" + pattern + ")(?= )")
            if compiled.pattern in anywhere:
                ends = [(m.start(), m.end() - 1) for m in compiled.finditer(padded)]
            else:
                ends = []
                for start in starts:
                    match = compiled.match(padded, start)
                    if match:
                        ends.append((start, match.end() - 1))
            for start, end in ends:
                if table.negatable and negation().negates(text, start):
                    continue
                hit = Hit(table.label, weight, start, end, text[start:end], tag)
                found.add((number, hit))
    return found


@pytest.mark.parametrize("report", REPORTS)
def test_shortcuts_find_what_trying_every_word_finds(report: str) -> None:
    group = _vocabulary().words
    text = normalise(report).text
    found = {(number, hit) for number, hits in enumerate(group.find(text)) for hit in hits}
    assert found == _every_word(group, text)


NORMALISED = [
    *REPORTS,
    "he said 2 me he'd come back 4 me",
    "R&B + grime/drill from flat_7 - all nite `til` 4am!!",
    "caf\u00e9 owner\u2019s son \u201cgrass\u201d \u2013 p*ki \u2014 n1gger",
    "it's 'not' fair''s x'y'z a'' ''b",
    "Thanks for your email.\n\nOn Mon, 3 Mar 2025 at 10:12, Housing wrote:\n> old text",
    "   ...   !!! ;; ?",
]


@pytest.mark.parametrize("report", NORMALISED)
def test_normalise_matches_word_by_word(report: str) -> None:
    shorthand = _shorthand()
    text = report if report.isascii() else unicodedata.normalize("NFKC", report)
    text = _strip_quoted_history(text, shorthand).translate(_CHARACTER_FOLDS).lower()
    raw = _TOKEN_RE.findall(text)
    expected = _normalised_slowly(raw, [t.replace("'", "") for t in raw], shorthand)
    got = normalise(report)
    assert (got.text, got.words, got.written) == (expected.text, expected.words, expected.written)
    for start in range(len(got.text) + 1):
        for end in (start, start + 1, start + 7, len(got.text)):
            assert got.quote(start, end) == _slow_quote(expected.written, got.starts, start, end)


def _slow_quote(written: tuple[str, ...], starts: tuple[int, ...], start: int, end: int) -> str:
    """The quote as first written: bisecting the word starts."""
    first = max(bisect_right(starts, start) - 1, 0)
    last = max(bisect_right(starts, max(end - 1, start)) - 1, first)
    quoted: list[str] = []
    for word in written[first : last + 1]:
        if not quoted or quoted[-1] != word:
            quoted.append(word)
    return " ".join(quoted)


def _marker_texts() -> list[str]:
    """Sentences, whole reports, and runs of their words, some joined by double spaces."""
    texts: list[str] = []
    for report in REPORTS:
        text = normalise(report).text
        texts += [text, *text.split(" . ")]
        words = text.split(" ")
        texts += [" ".join(words[at : at + 4]) for at in range(len(words))]
        texts += ["  ".join(words[at : at + 3]) for at in range(len(words))]
    texts += [
        "he has a knife right now",
        "he is outside now . last night he smashed it",
        "a few mins ago he was at the door",
        "ignore my last message sorry",
        "i am scared he will come back tomorrow",
        "",
        " ",
    ]
    return texts


@pytest.mark.parametrize("name", ["now_markers", "past_markers", "future_markers", "retractions"])
def test_alternations_find_what_the_whole_expression_finds(name: str) -> None:
    markers = getattr(emergency_vocabulary(), name)
    for text in _marker_texts():
        got, expected = markers.search(text), markers.pattern.search(text)
        assert (got is None) == (expected is None), text
        if got is not None and expected is not None:
            assert (got.span(), got.group(0)) == (expected.span(), expected.group(0)), text
