"""Hate incident detection: hostility or prejudice because of who someone is.

A hate incident is any incident perceived by the victim or anyone else to be motivated by
hostility towards race, religion, sexual orientation, gender identity or disability (seed 001,
003). Mentioning a group is not hostility: "the Muslim family upstairs play loud music" is a
noise report. A slur (also censored, "p*ki"), hostile words aimed at a group, "because I'm
gay", or the reporter's own word for it ("racist", "homophobic", "hate crime") is. The
vocabulary is in ``data/hate.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from triage.text import NormalisedText
from triage.vocabulary import (
    Hit,
    Masks,
    PhraseGroup,
    PhraseTable,
    expand_macros,
    load_data,
    quote_all,
    weighted_phrases,
)

HATE_STRANDS: tuple[str, ...] = (
    "race",
    "religion",
    "sexual_orientation",
    "gender_identity",
    "disability",
)
"""The protected characteristics a hate incident is recorded under, in report order."""

_UNSPECIFIED = "unspecified"
_STRAND_WORDS = {
    "race": "race",
    "religion": "religion or belief",
    "sexual_orientation": "sexual orientation",
    "gender_identity": "gender identity",
    "disability": "disability",
    _UNSPECIFIED: "strand not named",
}


@dataclass(frozen=True, slots=True)
class HateFinding:
    """What the hate vocabulary found in one report.

    Attributes:
        hate: True if any hostility cue was found.
        strands: The protected characteristics named, in :data:`HATE_STRANDS` order (empty
            when the report says "hate crime" without saying against whom).
        hits: Every cue found, for reasons.
        reasons: One human-readable line per strand, quoting the reporter's words.
    """

    hate: bool
    strands: tuple[str, ...]
    hits: tuple[Hit, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HateVocabulary:
    """The compiled hate vocabulary: one table per strand, and the disclaimers to set aside."""

    masks: Masks
    strands: tuple[PhraseTable, ...]


@lru_cache(maxsize=1)
def hate_vocabulary() -> HateVocabulary:
    """The vocabulary from ``data/hate.yaml``, compiled once."""
    data = load_data("hate.yaml")
    macros = expand_macros(data.get("macros"))
    tables: list[PhraseTable] = []
    for strand, body in data["strands"].items():
        if strand not in HATE_STRANDS and strand != _UNSPECIFIED:
            raise ValueError(f"hate.yaml: unknown strand {strand!r}")
        phrases = weighted_phrases(body.get("phrases") or {})
        phrases += [(re.escape(str(slur)), 5, "slur") for slur in body.get("slurs") or ()]
        tables.append(PhraseTable(str(strand), phrases, macros))
    return HateVocabulary(
        masks=Masks("hate_mask", data.get("masks") or (), macros), strands=tuple(tables)
    )


@lru_cache(maxsize=1)
def _own_group() -> PhraseGroup:
    vocabulary = hate_vocabulary()
    return PhraseGroup([*vocabulary.strands, vocabulary.masks.table])


def judge_hate(
    report: NormalisedText, strand_hits: Iterable[list[Hit]], masked: list[Hit]
) -> HateFinding:
    """Turn the hits of the strand tables into a finding (see :func:`find_hate`).

    Args:
        report: The normalised report.
        strand_hits: Hits per strand table, in :attr:`HateVocabulary.strands` order.
        masked: Hits of the mask table; strand hits overlapping them do not count.
    """
    hits = Masks.keep((hit for table_hits in strand_hits for hit in table_hits), masked)
    if not hits:
        return HateFinding(hate=False, strands=(), hits=(), reasons=())
    named = {hit.label for hit in hits}
    strands = tuple(strand for strand in HATE_STRANDS if strand in named)
    reasons = tuple(
        f"hate ({_STRAND_WORDS[strand]}): "
        + quote_all(report.quote(h.start, h.end) for h in hits if h.label == strand)
        for strand in (*HATE_STRANDS, _UNSPECIFIED)
        if strand in named
    )
    return HateFinding(hate=True, strands=strands, hits=tuple(hits), reasons=reasons)


def find_hate(report: NormalisedText) -> HateFinding:
    """Look for hostility towards a protected characteristic.

    Args:
        report: The normalised report.

    Returns:
        The finding, with the strands named and reasons quoting the report.
    """
    found = _own_group().find(report.text)
    return judge_hate(report, found[:-1], found[-1])
