"""Hate incident detection: hostility or prejudice because of who someone is.

A hate incident is any incident perceived by the victim or anyone else to be motivated by
hostility towards race, religion, sexual orientation, gender identity or disability (seed 001,
003). Mentioning a group is not hostility: "the Muslim family upstairs play loud music" is a
noise report. Hate is found in two ways, both from ``data/hate.yaml``:

* directly: a slur (also censored, "p*ki"), a hate symbol, hostile words aimed at a group,
  "because I'm gay", or the reporter's own word for it ("racist", "homophobic", "hate crime");
* by composition: the report says who the victim is ("I'm trans", "my husband is Nigerian",
  "she wears a niqab") and describes hostility aimed at them (abuse, mocking, exclusion,
  threats, violence, damage, being singled out, exploitation by "friends"). Which kinds of
  hostility count with which victims is the file's ``compose`` table.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from triage.text import NormalisedText
from triage.vocabulary import (
    Hit,
    Masks,
    PhraseGroup,
    PhraseTable,
    expand,
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
class _Compose:
    """One row of ``compose``: these victims with these kinds of hostility are hate."""

    victims: str
    strands: frozenset[str]
    kinds: frozenset[str]
    within: int
    after: bool


@dataclass(frozen=True, slots=True)
class HateVocabulary:
    """The compiled hate vocabulary.

    Attributes:
        masks: Disclaimers and innocent uses set aside ("not being racist but", "black car").
        strands: One table of direct cues per strand (and ``unspecified``).
        victims: Per kind of victim (identity, vulnerable, mention), one table per strand.
        identity_masks: Descriptions of a perpetrator, which are not a victim's identity.
        hostility: Hostility aimed at someone; each hit's tag is its kind.
        compose: Which victims with which kinds of hostility make a hate report.
    """

    masks: Masks
    strands: tuple[PhraseTable, ...]
    victims: Mapping[str, tuple[PhraseTable, ...]]
    identity_masks: Masks
    hostility: PhraseTable
    compose: tuple[_Compose, ...]
    disclaimers: re.Pattern[str] | None = None

    @property
    def tables(self) -> tuple[PhraseTable, ...]:
        """The tables read with every report, in the order :func:`judge_hate` expects.

        The hostility and identity-mask tables are read only for a report that names a
        victim (see :func:`judge_hate`), which most reports do not.
        """
        victim_tables = [table for tables in self.victims.values() for table in tables]
        return (*self.strands, self.masks.table, *victim_tables)


def _strand(name: object) -> str:
    strand = str(name)
    if strand not in HATE_STRANDS and strand != _UNSPECIFIED:
        raise ValueError(f"hate.yaml: unknown strand {strand!r}")
    return strand


@lru_cache(maxsize=1)
def hate_vocabulary() -> HateVocabulary:
    """The vocabulary from ``data/hate.yaml``, compiled once."""
    data = load_data("hate.yaml")
    macros = expand_macros(data.get("macros"))
    tables: list[PhraseTable] = []
    for strand, body in data["strands"].items():
        phrases = weighted_phrases(body.get("phrases") or {})
        phrases += [(re.escape(str(slur)), 5, "slur") for slur in body.get("slurs") or ()]
        tables.append(PhraseTable(_strand(strand), phrases, macros))
    victims = {
        str(kind): tuple(
            PhraseTable(_strand(strand), weighted_phrases(phrases), macros)
            for strand, phrases in by_strand.items()
        )
        for kind, by_strand in (data.get("victims") or {}).items()
    }
    hostility = PhraseTable(
        "hostility",
        [
            (str(phrase), 1, str(kind))
            for kind, phrases in (data.get("hostility") or {}).items()
            for phrase in phrases
        ],
        macros,
    )
    compose = tuple(
        _Compose(
            victims=str(row["victims"]),
            strands=frozenset(_strand(s) for s in row["strands"]),
            kinds=frozenset(str(k) for k in row["kinds"]),
            within=int(row.get("within", 0)),
            after=bool(row.get("after", False)),
        )
        for row in data.get("compose") or ()
    )
    unknown = {row.victims for row in compose} - set(victims)
    if unknown:
        raise ValueError(f"hate.yaml: compose names unknown victims {sorted(unknown)}")
    return HateVocabulary(
        masks=Masks("hate_mask", data.get("masks") or (), macros),
        strands=tuple(tables),
        victims=victims,
        identity_masks=Masks("identity_mask", data.get("identity_masks") or (), macros),
        hostility=hostility,
        compose=compose,
        disclaimers=_disclaimers(data.get("disclaimers") or (), macros),
    )


def _disclaimers(phrases: Sequence[object], macros: Mapping[str, str]) -> re.Pattern[str] | None:
    """The reporter's own "it's not because of who we are", as one pattern (None if none)."""
    if not phrases:
        return None
    body = "|".join(expand(str(phrase), macros) for phrase in phrases)
    return re.compile(r"(?<![^ ])(?:" + body + r")(?![^ ])")


@lru_cache(maxsize=1)
def _own_group() -> PhraseGroup:
    return PhraseGroup(hate_vocabulary().tables)


@lru_cache(maxsize=1)
def _composition_group() -> PhraseGroup:
    vocabulary = hate_vocabulary()
    return PhraseGroup([vocabulary.identity_masks.table, vocabulary.hostility])


class _Sentences:
    """Which sentence of a normalised report an offset falls in."""

    def __init__(self, text: str) -> None:
        self._ends: list[int] = []
        at = text.find(" . ")
        while at >= 0:
            self._ends.append(at)
            at = text.find(" . ", at + 1)

    def of(self, offset: int) -> int:
        return bisect_right(self._ends, offset)


def _composed(
    vocabulary: HateVocabulary,
    victims: Mapping[str, Sequence[list[Hit]]],
    hostility: list[Hit],
    text: str,
) -> list[Hit]:
    """Victim and hostility hits that together make hate, per the ``compose`` table."""
    if not hostility:
        return []
    sentences = _Sentences(text)
    found: list[Hit] = []
    for row in vocabulary.compose:
        kinds = [hit for hit in hostility if hit.tag in row.kinds]
        if not kinds:
            continue
        for table_hits in victims.get(row.victims, ()):
            for victim in table_hits:
                if victim.label not in row.strands:
                    continue
                at = sentences.of(victim.start)
                for hit in kinds:
                    if abs(sentences.of(hit.start) - at) > row.within:
                        continue
                    if row.after and hit.end > victim.start:
                        continue
                    found.extend((victim, hit._replace(label=victim.label)))
                    break
    return found


def judge_hate(report: NormalisedText, hits: Sequence[list[Hit]]) -> HateFinding:
    """Turn the hits of the hate tables into a finding (see :func:`find_hate`).

    Args:
        report: The normalised report.
        hits: Hits per table, in :attr:`HateVocabulary.tables` order.
    """
    vocabulary = hate_vocabulary()
    strands_end = len(vocabulary.strands)
    masked = hits[strands_end]
    direct = Masks.keep((hit for table_hits in hits[:strands_end] for hit in table_hits), masked)
    composed: list[Hit] = []
    if any(hits[strands_end + 1 :]):
        identity_masked, hostility = _composition_group().find(report.text)
        at = strands_end + 1
        victims: dict[str, list[list[Hit]]] = {}
        for kind, tables in vocabulary.victims.items():
            victims[kind] = [
                Masks.keep(Masks.keep(table_hits, masked), identity_masked) if table_hits else []
                for table_hits in hits[at : at + len(tables)]
            ]
            at += len(tables)
        if hostility:
            composed = _composed(vocabulary, victims, Masks.keep(hostility, masked), report.text)
        if composed and vocabulary.disclaimers and vocabulary.disclaimers.search(report.text):
            composed = []
    found = direct + composed
    if not found:
        return HateFinding(hate=False, strands=(), hits=(), reasons=())
    named = {hit.label for hit in found}
    strands = tuple(strand for strand in HATE_STRANDS if strand in named)
    reasons = tuple(
        f"hate ({_STRAND_WORDS[strand]}): "
        + quote_all(report.quote(h.start, h.end) for h in found if h.label == strand)
        for strand in (*HATE_STRANDS, _UNSPECIFIED)
        if strand in named
    )
    return HateFinding(hate=True, strands=strands, hits=tuple(found), reasons=reasons)


_MACRO_NAME = re.compile(r"\{([a-z_]+)\}")
_PLAIN_WORD = re.compile(r"[a-z]+")
_NOT_A_GROUP = frozenset(
    "a an the of in on at to my our his her their from not one two people person who is"
    " are has have with and or another different other this country here".split()
)


@lru_cache(maxsize=1)
def _group_tokens() -> frozenset[str]:
    """The words of hate.yaml's ``group_words`` macros ("polish", "hijab", "autistic")."""
    data = load_data("hate.yaml")
    macros = data.get("macros") or {}
    words: set[str] = set()
    seen: set[str] = set()

    def walk(value: object) -> None:
        items = value if isinstance(value, list) else [value]
        for item in items:
            text = str(item)
            for name in _MACRO_NAME.findall(text):
                if name not in seen and name in macros:
                    seen.add(name)
                    walk(macros[name])
            found = _PLAIN_WORD.findall(_MACRO_NAME.sub(" ", text.replace("\\w", " ")))
            if len(found) == 1:
                words.update(w for w in found if len(w) > 1 and w not in _NOT_A_GROUP)
            else:  # "a guide dog", "blue badge holders": only the telling words
                words.update(w for w in found if len(w) >= 6 and w not in _NOT_A_GROUP)

    walk(data.get("group_words") or "")
    return frozenset(words)


def names_a_group(report: NormalisedText) -> bool:
    """Whether the report names a protected group or characteristic anywhere.

    The flag model's second opinion on hate counts only in a report that does: hostility with
    no one's race, religion, sexuality, gender identity or disability in view is not hate,
    however much its wording looks like the hate reports the model learnt from. A word of one
    of the group macros is enough ("polish", "hijab", "autistic"); it is a set lookup per word.
    """
    return not _group_tokens().isdisjoint(report.words)


def find_hate(report: NormalisedText) -> HateFinding:
    """Look for hostility towards a protected characteristic.

    Args:
        report: The normalised report.

    Returns:
        The finding, with the strands named and reasons quoting the report.
    """
    return judge_hate(report, _own_group().find(report.text))
