"""Immediate danger: the report that must be told to call 999 at once (R-02).

Danger is something happening now: "he's got a knife", "fire in the stairwell", "can't
breathe", "won't let me leave", "dog attacking my son", or a danger word beside a now-marker
("smashing car windows right now"). A threat last week is serious but not an emergency, and
"the noise is killing me" or "fire alarm testing" is no danger at all. Vocabulary in
``data/emergency.yaml``; cues tagged ``now`` carry their own immediacy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from triage.text import NormalisedText
from triage.vocabulary import (
    Alternation,
    Hit,
    Masks,
    PhraseGroup,
    PhraseTable,
    expand_macros,
    load_data,
    quote_all,
    weighted_phrases,
)

_NOW = "now"
_PLACED = "\0placed"
"""Returned as the marker when a past- or future-marker decided a cue is not happening now."""
_SENTENCE = " . "


@dataclass(frozen=True, slots=True)
class EmergencyFinding:
    """What the emergency vocabulary found in one report.

    Attributes:
        emergency: True if the report describes danger happening now.
        kinds: Which kinds of danger (weapon, fire, medical, trapped...), in the order found.
        reasons: Human-readable lines quoting the report.
        placed: Danger words were found and placed in the past or the future ("last night",
            "he might come back one day"): the rules have judged their time.
    """

    emergency: bool
    kinds: tuple[str, ...]
    reasons: tuple[str, ...]
    placed: bool = False


@dataclass(frozen=True, slots=True)
class EmergencyVocabulary:
    """The compiled emergency vocabulary: dangers, figurative uses set aside, time markers.

    ``supporting`` kinds (someone at the door, a plea for help) count only beside hostility.
    """

    masks: Masks
    dangers: tuple[PhraseTable, ...]
    supporting: frozenset[str]
    now_markers: Alternation
    past_markers: Alternation
    future_markers: Alternation
    retractions: Alternation


@lru_cache(maxsize=1)
def emergency_vocabulary() -> EmergencyVocabulary:
    """The vocabulary from ``data/emergency.yaml``, compiled once."""
    data = load_data("emergency.yaml")
    macros = expand_macros(data.get("macros"))
    dangers = tuple(
        PhraseTable(str(kind), weighted_phrases(phrases), macros, negatable=True)
        for kind, phrases in data["dangers"].items()
    )

    def markers(key: str) -> Alternation:
        return Alternation((str(p) for p in data[key]), macros)

    return EmergencyVocabulary(
        masks=Masks("emergency_mask", data.get("masks") or (), macros),
        dangers=dangers,
        supporting=frozenset(str(kind) for kind in data.get("supporting_kinds") or ()),
        now_markers=markers("now_markers"),
        past_markers=markers("past_markers"),
        future_markers=markers("future_markers"),
        retractions=markers("retractions"),
    )


@lru_cache(maxsize=1)
def _own_group() -> PhraseGroup:
    vocabulary = emergency_vocabulary()
    return PhraseGroup([*vocabulary.dangers, vocabulary.masks.table])


def _sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Where the sentence holding ``text[start:end]`` begins and ends."""
    left = text.rfind(_SENTENCE, 0, start)
    right = text.find(_SENTENCE, end)
    return (0 if left < 0 else left + len(_SENTENCE), len(text) if right < 0 else right)


_NOW_SUBJECTS = frozenset(
    "he she they hes shes theyre there theres im i its it someone somebody the my his her"
    " we were you".split()
)


def _spent_now(marker: re.Match[str], sentence: str, vocabulary: EmergencyVocabulary) -> bool:
    """A bare "now" closing a clause about the past: "last night ..., it's just a shell now".

    "now" followed by someone doing something ("now he's outside") is still happening.
    """
    if marker.group(0) != _NOW or vocabulary.past_markers.search(sentence) is None:
        return False
    after = sentence[marker.end() :].split(maxsplit=1)
    return not after or after[0] not in _NOW_SUBJECTS


def _is_now(
    hit: Hit,
    text: str,
    vocabulary: EmergencyVocabulary,
    judged: dict[tuple[int, int, bool], tuple[bool, str]],
) -> tuple[bool, str]:
    """Whether a danger cue is happening now, and the now-marker that says so (if any).

    The answer depends only on the cue's sentence and whether the cue carries its own
    immediacy, so it is worked out once per sentence and kind of cue in ``judged``.
    """
    first, last = _sentence_bounds(text, hit.start, hit.end)
    key = (first, last, hit.tag == _NOW)
    answer = judged.get(key)
    if answer is None:
        answer = judged[key] = _sentence_is_now(text, first, last, key[2], vocabulary)
    return answer


def _sentence_is_now(
    text: str, first: int, last: int, own_now: bool, vocabulary: EmergencyVocabulary
) -> tuple[bool, str]:
    """:func:`_is_now` for the sentence ``text[first:last]`` (``own_now``: a cue tagged now)."""
    sentence = text[first:last]
    if vocabulary.future_markers.search(sentence):
        return False, _PLACED
    marker = vocabulary.now_markers.search(sentence)
    if marker and not _spent_now(marker, sentence, vocabulary):
        return True, marker.group(0)
    if vocabulary.past_markers.search(sentence):
        return False, _PLACED
    if own_now:
        return True, ""
    before_first, _ = _sentence_bounds(text, max(first - len(_SENTENCE), 0), first)
    _, after_last = _sentence_bounds(text, last, min(last + len(_SENTENCE), len(text)))
    for nearby in (text[before_first:first], text[last:after_last]):
        marker = vocabulary.now_markers.search(nearby)
        # a neighbour's "still there" counts only if that sentence is not about the past
        # ("Last Friday they were still there at midnight")
        if marker and vocabulary.past_markers.search(nearby) is None:
            return True, marker.group(0)
    return False, ""


def judge_emergency(
    report: NormalisedText,
    danger_hits: Iterable[list[Hit]],
    masked: list[Hit],
    *,
    hostility: bool,
) -> EmergencyFinding:
    """Turn the hits of the danger tables into a finding (see :func:`find_emergency`).

    Args:
        report: The normalised report.
        danger_hits: Hits per danger table, in :attr:`EmergencyVocabulary.dangers` order.
        masked: Hits of the mask table; danger hits overlapping them do not count.
        hostility: Whether the rest of the report shows hostility.
    """
    vocabulary = emergency_vocabulary()
    kinds: list[str] = []
    reasons: list[str] = []
    danger_hits = list(danger_hits)
    if not any(danger_hits):
        return EmergencyFinding(emergency=False, kinds=(), reasons=())
    text = Masks.blank(report.text, masked)
    retracted = max(
        (m.start() for m in vocabulary.retractions.pattern.finditer(text)), default=-1
    )
    judged: dict[tuple[int, int, bool], tuple[bool, str]] = {}
    placed = False
    for table, hits in zip(vocabulary.dangers, danger_hits, strict=True):
        if not hits or (table.label in vocabulary.supporting and not hostility):
            continue
        quoted: list[str] = []
        for hit in Masks.keep(hits, masked):
            if hit.end <= retracted:
                continue
            now, marker = _is_now(hit, text, vocabulary, judged)
            if not now:
                placed = placed or marker == _PLACED
                continue
            quoted.append(report.quote(hit.start, hit.end))
            if marker:
                at = text.find(marker)
                quoted.append(report.quote(at, at + len(marker)) if at >= 0 else marker)
        if quoted:
            kinds.append(table.label)
            reasons.append(f"emergency ({table.label.replace('_', ' ')} now): {quote_all(quoted)}")
    return EmergencyFinding(
        emergency=bool(kinds), kinds=tuple(kinds), reasons=tuple(reasons), placed=placed
    )


def vetoes_second_opinion(finding: EmergencyFinding, masked: list[Hit]) -> bool:
    """Whether the rules have already judged the time or the meaning of danger words.

    The flag model may add an emergency the rules did not see, but not against their word:
    where wording was set aside as figurative or harmless ("the noise is killing me", "kicking
    a ball") or danger words were placed in the past or the future ("last night", "he might
    come back one day"), whether it is happening now is the rules' call.
    """
    return bool(masked) or finding.placed


def find_emergency(report: NormalisedText, *, hostility: bool) -> EmergencyFinding:
    """Decide whether a report describes danger happening now.

    Args:
        report: The normalised report.
        hostility: Whether the rest of the report shows hostility (threats, weapons, fear,
            violence); "someone at my door now" is only danger beside it.

    Returns:
        The finding, with the kinds of danger and reasons quoting the report.
    """
    found = _own_group().find(report.text)
    return judge_emergency(report, found[:-1], found[-1], hostility=hostility)
