"""Reading a report: category, hate, emergency, not-ASB and severity, each with its reasons.

``classify`` is pure: the same words always give the same :class:`Classification`, with no
clock, network or storage. Vocabulary lives in ``triage/data/*.yaml`` and is compiled once on
first use. Every flag carries a reason that quotes the reporter's words, so an officer can see
why a report was put where it was.

The channel is accepted so that callers need not special-case, but never changes the outcome:
every channel gets the same rules (R-01).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from triage.category_model import CategoryModel, FlagModel, flag_features
from triage.emergency import emergency_vocabulary, judge_emergency, vetoes_second_opinion
from triage.hate import hate_vocabulary, judge_hate, names_a_group
from triage.taxonomy import CATEGORY_LABELS, Category
from triage.text import NormalisedText, normalise
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

SEVERITY_KINDS: tuple[str, ...] = (
    "weapon",
    "injury",
    "violence",
    "bite_attack",
    "targeted",
    "repeated",
    "vulnerable",
    "fear",
)
"""Severity and vulnerability cues, as named in ``data/severity.yaml`` and in reasons."""

_HOSTILE_CATEGORIES = frozenset(
    {Category.VIOLENCE_THREATS, Category.HARASSMENT_INTIMIDATION, Category.DOMESTIC_ABUSE}
)
_HOSTILE_SEVERITY = frozenset({"weapon", "violence", "fear", "targeted"})
_HARM_SEVERITY = frozenset({"weapon", "injury", "violence", "bite_attack", "targeted", "fear"})
_NOT_ASB_MIN_SCORE = 3
_STRONG_CATEGORY_SCORE = 4
_HATE_SCORE = 1000


@dataclass(frozen=True, slots=True)
class Classification:
    """What a report is about, and why we think so.

    Attributes:
        category: The top category.
        categories: Every category with a cue, best first (``category`` is the first).
        scores: Score per category in ``categories``, same order.
        hate: Hostility towards a protected characteristic was found.
        hate_strands: Which characteristics (race, religion, sexual_orientation,
            gender_identity, disability).
        emergency: Danger happening now: the reporter must be told to call 999 (R-02).
        emergency_kinds: Which dangers (weapon, fire, medical, trapped, ...).
        not_asb: Everyday living, not ASB: answered with self-help advice (R-15).
        severity: Severity and vulnerability cues found (see :data:`SEVERITY_KINDS`).
        third_party: Someone is reporting on a tenant's behalf (R-07).
        offensive_graffiti: Graffiti that is hateful or obscene, removed within a working day
            (R-11).
        matched: False if no vocabulary matched at all: the category is then the category
            model's clear lean, or the fallback.
        reasons: Human-readable lines, each quoting the words that led to it.
    """

    category: Category
    categories: tuple[Category, ...]
    scores: tuple[int, ...]
    hate: bool
    hate_strands: tuple[str, ...]
    emergency: bool
    emergency_kinds: tuple[str, ...]
    not_asb: bool
    severity: tuple[str, ...]
    third_party: bool
    offensive_graffiti: bool
    matched: bool
    reasons: tuple[str, ...]

    def has(self, *kinds: str) -> bool:
        """True if any of the named severity cues was found."""
        return any(kind in self.severity for kind in kinds)

    @property
    def emergency_unconfirmed(self) -> bool:
        """Danger now only in the flag model's reading of the wording as a whole, no danger
        words: the conversation asks the reporter first instead of sending 999 unasked."""
        return self.emergency and self.emergency_kinds == (SECOND_OPINION,)


SECOND_OPINION = "second_opinion"
"""The emergency kind when only the flag model saw danger now (see :class:`FlagModel`)."""

_EXTRA_TABLES = (
    "offensive_graffiti",
    "not_asb_always",
    "not_asb_reasonable_hours",
    "late_hours",
    "harm",
    "third_party",
)


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    """Every table of every vocabulary, matched in one pass over a report's words.

    ``words`` holds, in order: the categories, the _EXTRA_TABLES, the severity cues and their
    mask, the hate tables, the dangers and their mask. The slices below say where each part is.
    """

    categories: tuple[Category, ...]
    words: PhraseGroup
    extras: slice
    severity: slice
    severity_mask: int
    hate: slice
    dangers: slice
    danger_mask: int
    tie_break: Mapping[Category, int]
    fallback: Category
    blocking: frozenset[Category]
    blocking_weight: int
    from_cues: Mapping[str, Mapping[Category, int]]
    model_weight: float
    model_fallback: float
    courses_of_conduct: tuple[tuple[Category, frozenset[str], Category, int], ...]


def _table(
    label: str, raw: Any, macros: Mapping[str, str], *, negatable: bool = False
) -> PhraseTable:
    return PhraseTable(label, weighted_phrases(raw), macros, negatable=negatable)


@lru_cache(maxsize=1)
def _vocabulary() -> _Vocabulary:
    categories = load_data("categories.yaml")
    macros = expand_macros(categories.get("macros"))
    tables = [_table(name, raw, macros) for name, raw in categories["categories"].items()]
    order = [Category(name) for name in categories["tie_break"]]
    severity = load_data("severity.yaml")
    severity_macros = expand_macros(severity.get("macros"))
    unknown = set(severity["cues"]) - set(SEVERITY_KINDS)
    if unknown:
        raise ValueError(f"severity.yaml: unknown cue kinds {sorted(unknown)}")
    not_asb = load_data("not_asb.yaml")
    reporter = load_data("reporter.yaml")
    extras = {
        "offensive_graffiti": categories["offensive_graffiti"],
        "not_asb_always": not_asb["always"],
        "not_asb_reasonable_hours": not_asb["reasonable_hours"],
        "late_hours": not_asb["aggravators"]["late_hours"],
        "harm": not_asb["aggravators"]["harm"],
        "third_party": reporter["third_party"],
    }
    severity_tables = [
        _table(kind, raw, severity_macros, negatable=bool(severity.get("negatable")))
        for kind, raw in severity["cues"].items()
    ]
    severity_mask = Masks("severity_mask", severity.get("masks") or (), severity_macros)
    hate = hate_vocabulary()
    emergency = emergency_vocabulary()
    parts: list[list[PhraseTable]] = [
        tables,
        [_table(name, extras[name], macros) for name in _EXTRA_TABLES],
        severity_tables,
        [severity_mask.table],
        list(hate.tables),
        list(emergency.dangers),
        [emergency.masks.table],
    ]
    bounds: list[int] = [0]
    for part in parts:
        bounds.append(bounds[-1] + len(part))
    return _Vocabulary(
        categories=tuple(Category(table.label) for table in tables),
        words=PhraseGroup(table for part in parts for table in part),
        extras=slice(bounds[1], bounds[2]),
        severity=slice(bounds[2], bounds[3]),
        severity_mask=bounds[3],
        hate=slice(bounds[4], bounds[5]),
        dangers=slice(bounds[5], bounds[6]),
        danger_mask=bounds[6],
        tie_break={category: index for index, category in enumerate(order)},
        fallback=Category(categories["fallback"]),
        blocking=frozenset(Category(str(c)) for c in not_asb["blocking_categories"]),
        blocking_weight=int(not_asb["blocking_weight"]),
        model_weight=float(categories.get("model_weight", 0)),
        model_fallback=float(categories.get("model_fallback", 2)),
        courses_of_conduct=tuple(
            (
                Category(str(row["when"])),
                frozenset(str(cue) for cue in row["with"]),
                Category(str(row["add"])),
                int(row["weight"]),
            )
            for row in categories.get("courses_of_conduct") or ()
        ),
        from_cues={
            str(cue): {Category(str(c)): int(w) for c, w in weights.items()}
            for cue, weights in (categories.get("from_cues") or {}).items()
        },
    )


def _score(hits: list[Hit]) -> int:
    """A table's score.

    Overlapping hits count once, at the heaviest ("loud music" and "music" are one cue), and
    each distinct phrase counts once, so that long emails do not snowball.
    """
    taken: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (-h.weight, h.start)):
        if all(hit.end <= other.start or hit.start >= other.end for other in taken):
            taken.append(hit)
    seen: dict[str, int] = {}
    for hit in taken:
        seen.setdefault(hit.phrase, hit.weight)
    return sum(seen.values())


def _outside(hits: list[Hit], spans: list[Hit]) -> list[Hit]:
    """The hits not inside any of ``spans``: words an everyday-living cue explains."""
    return [
        hit
        for hit in hits
        if not any(span.start <= hit.start and hit.end <= span.end for span in spans)
    ]


def _quote(report: NormalisedText, hits: list[Hit], limit: int = 4) -> str:
    if len(hits) == 1:
        return f"'{report.quote(hits[0].start, hits[0].end)}'"
    taken: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start - h.end, h.start)):
        if not any(other.start <= hit.start and hit.end <= other.end for other in taken):
            taken.append(hit)
    ordered = sorted(taken, key=lambda h: (-h.weight, h.start))[:limit]
    return quote_all(report.quote(h.start, h.end) for h in ordered)


def _not_asb(extra: Mapping[str, list[Hit]]) -> tuple[int, list[Hit], list[Hit]]:
    """Score everyday-living cues, less those undone by aggravation.

    Returns:
        The everyday-living score, the cues that count, and the aggravators found.
    """
    if extra["harm"]:
        return 0, [], extra["harm"]
    reasonable = extra["not_asb_reasonable_hours"]
    late = extra["late_hours"] if reasonable else []
    counted = extra["not_asb_always"] + ([] if late else reasonable)
    return _score(counted), counted, late


_MODEL_OVERRIDE: list[CategoryModel | None] = []


def use_category_model(model: CategoryModel | None) -> None:
    """Use another category model (None: rules only), to measure what the model adds.

    For evaluation scripts; the service always uses the shipped model.
    """
    _MODEL_OVERRIDE[:] = [model]


def use_shipped_category_model() -> None:
    """Go back to the shipped category model after :func:`use_category_model`."""
    _MODEL_OVERRIDE.clear()


def _category_model() -> CategoryModel:
    if _MODEL_OVERRIDE:
        return _MODEL_OVERRIDE[0] or _NO_MODEL
    return CategoryModel.shipped()


_NO_MODEL = CategoryModel(bias={}, weights={})

_FLAG_OVERRIDE: list[FlagModel | None] = []
_NO_FLAGS = FlagModel(bias={}, weights={}, thresholds={})


def use_flag_model(model: FlagModel | None) -> None:
    """Use another flag model (None: rules only), to measure what the model adds.

    For evaluation scripts; the service always uses the shipped model.
    """
    _FLAG_OVERRIDE[:] = [model]


def use_shipped_flag_model() -> None:
    """Go back to the shipped flag model after :func:`use_flag_model`."""
    _FLAG_OVERRIDE.clear()


def _flag_model() -> FlagModel:
    if _FLAG_OVERRIDE:
        return _FLAG_OVERRIDE[0] or _NO_FLAGS
    return FlagModel.shipped()


class _SecondOpinion:
    """The flag model's view of one report, its features worked out once if asked."""

    def __init__(self, report: NormalisedText) -> None:
        self._report = report
        self._found: set[str] | None = None
        self.model = _flag_model()

    def says(self, flag: str) -> tuple[float, list[str]] | None:
        """The model's probability and the words behind it, if it raises ``flag``."""
        if flag not in self.model.thresholds:
            return None
        if self._found is None:
            self._found = flag_features(self._report.words)
        share = self.model.says(flag, self._found)
        if share is None:
            return None
        return share, self.model.evidence(flag, self._found)


def _opinion(what: str, share: float, words: list[str]) -> str:
    return (
        f"{what} (second opinion: the wording as a whole, {share:.0%} by the flag model: "
        f"{quote_all(words)}), for an officer to confirm"
    )


_ASB_CATEGORIES = tuple(
    c.value for c in Category if c not in (Category.HATE_INCIDENT, Category.NOT_ASB)
)


def _lean_without_cues(
    report: NormalisedText, vocabulary: _Vocabulary
) -> tuple[Category, float, list[str]] | None:
    """Where no phrase matched, the category the model leans to, if it leans clearly.

    Returns the category, its probability and the report's words that weigh most towards it,
    or None when the model is unsure (below ``model_fallback`` in categories.yaml).
    """
    model = _category_model()
    shares = model.probabilities(report.words, _ASB_CATEGORIES)
    if not shares:
        return None
    best = max(shares, key=shares.__getitem__)
    if shares[best] < vocabulary.model_fallback:
        return None
    weights = model.weights
    heavy = sorted(
        (w for w in set(report.words) if weights.get(w, {}).get(best, 0.0) > 0),
        key=lambda w: (-weights[w][best], w),  # ties by the word: same report, same reasons
    )[:3]
    if not heavy:
        return None
    return Category(best), shares[best], heavy


def _lend(
    category_hits: dict[Category, list[Hit]],
    weights: Mapping[Category, int] | None,
    hits: list[Hit],
) -> None:
    """Count a severity or danger cue's words towards the categories it points to."""
    if not weights:
        return
    for category, weight in weights.items():
        label = category.value
        category_hits.setdefault(category, []).extend(
            [Hit(label, weight, start, end, phrase, tag) for _, _, start, end, phrase, tag in hits]
        )


def classify(text: str, channel: str | None = None) -> Classification:
    """Read a report and say what it is about.

    Args:
        text: The report as the reporter wrote it (SMS, email body, chat message).
        channel: Where it came from ("sms", "email", "telegram", "chat"...). Recorded by
            callers; it never changes the outcome (R-01).

    Returns:
        The classification, with reasons quoting the report.
    """
    del channel  # every channel gets the same rules
    vocabulary = _vocabulary()
    report = normalise(text)
    reasons: list[str] = []

    found = vocabulary.words.find(report.text)

    hate = judge_hate(report, found[vocabulary.hate])
    reasons.extend(hate.reasons)
    second = _SecondOpinion(report)
    hate_flag, hate_strands = hate.hate, hate.strands
    if not hate_flag and names_a_group(report) and (said := second.says("hate")):
        hate_flag = True
        reasons.append(_opinion("hate (strand not named)", *said))

    extra = dict(zip(_EXTRA_TABLES, found[vocabulary.extras], strict=True))
    category_hits = {
        category: list(hits)
        for category, hits in zip(vocabulary.categories, found, strict=False)
        if hits
    }

    severity: list[str] = []
    severity_masked = found[vocabulary.severity_mask]
    for table, hits in zip(
        vocabulary.words.tables[vocabulary.severity], found[vocabulary.severity], strict=True
    ):
        hits = Masks.keep(hits, severity_masked)
        if hits:
            severity.append(table.label)
            reasons.append(f"{table.label.replace('_', ' ')}: {_quote(report, hits)}")
            _lend(category_hits, vocabulary.from_cues.get(table.label), hits)

    hostility = bool(_HOSTILE_SEVERITY & set(severity)) or any(
        category in _HOSTILE_CATEGORIES for category in category_hits
    )
    emergency = judge_emergency(
        report, found[vocabulary.dangers], found[vocabulary.danger_mask], hostility=hostility
    )
    reasons.extend(emergency.reasons)
    emergency_flag, emergency_kinds = emergency.emergency, emergency.kinds
    if (
        not emergency_flag
        and not vetoes_second_opinion(emergency, found[vocabulary.danger_mask])
        and (said := second.says("emergency"))
    ):
        emergency_flag, emergency_kinds = True, (SECOND_OPINION,)
        reasons.append(_opinion("emergency (danger now)", *said))
    for table, hits in zip(
        vocabulary.words.tables[vocabulary.dangers], found[vocabulary.dangers], strict=True
    ):
        if table.label in emergency.kinds:
            _lend(category_hits, vocabulary.from_cues.get("emergency " + table.label), hits)

    for when, needs, add, weight in vocabulary.courses_of_conduct:
        if when in category_hits and needs <= set(severity):
            _lend(category_hits, {add: weight}, category_hits[when])

    scored: list[tuple[Category, int, list[Hit]]] = []
    for category, hits in category_hits.items():
        score = _score(hits)
        if score > 0:
            scored.append((category, score, hits))

    everyday, everyday_hits, _ = _not_asb(extra)
    if everyday_hits:
        outside = [(category, _outside(hits, everyday_hits)) for category, _, hits in scored]
        best_other = max((_score(hits) for _, hits in outside), default=0)
    else:
        outside = [(category, hits) for category, _, hits in scored]
        best_other = max((score for _, score, _ in scored), default=0)
    blocked = [
        hit
        for category, hits in outside
        if category in vocabulary.blocking
        for hit in hits
        if hit.weight >= vocabulary.blocking_weight
    ]
    ruled_out = hate_flag or emergency_flag or bool(_HARM_SEVERITY & set(severity))
    not_asb = (
        everyday >= _NOT_ASB_MIN_SCORE
        and not blocked
        and everyday > best_other
        and best_other < _STRONG_CATEGORY_SCORE + everyday
        and not ruled_out
    )
    not_asb_opinion = ""
    if (
        not not_asb
        and everyday_hits
        and not (ruled_out or blocked or extra["late_hours"])
        and (said := second.says("not_asb"))
    ):
        not_asb = True
        not_asb_opinion = _opinion("not ASB", *said)

    # The model adds at most model_weight points, so it can only reorder categories within
    # that many points of the best; the rest are left out of its arithmetic.
    best = max((score for _, score, _ in scored), default=0)
    close = [c.value for c, score, _ in scored if best - score < vocabulary.model_weight]
    leaning = _category_model().probabilities(report.words, close) if len(close) > 1 else {}
    scored.sort(
        key=lambda item: (
            -(item[1] + vocabulary.model_weight * leaning.get(item[0].value, 0.0)),
            -item[1],
            vocabulary.tie_break.get(item[0], 99),
        )
    )
    if leaning and scored[0][1] < max(score for _, score, _ in scored):
        top = scored[0][0]
        reasons.append(
            f"category {top.value} ahead on the wording as a whole "
            f"({leaning[top.value]:.0%} by the category model)"
        )
    ranked: list[tuple[Category, int]] = [(category, score) for category, score, _ in scored]
    if hate_flag:
        ranked.insert(0, (Category.HATE_INCIDENT, _HATE_SCORE))
    if not_asb:
        ranked.insert(0, (Category.NOT_ASB, everyday))
        reasons.append(f"not ASB (everyday living): {_quote(report, everyday_hits)}")
        if not_asb_opinion:
            reasons.append(not_asb_opinion)
    elif everyday_hits:
        why = "ASB words beside them: " + _quote(report, blocked) if blocked else "outweighed"
        reasons.append(f"everyday-living words ({why}): " + _quote(report, everyday_hits))
    matched = bool(ranked)
    if not ranked:
        leaning_to = _lean_without_cues(report, vocabulary)
        if leaning_to is None:
            ranked.append((vocabulary.fallback, 0))
            reasons.append(
                "no category words found: recorded as "
                f"{CATEGORY_LABELS[vocabulary.fallback].lower()} for an officer to review"
            )
        else:
            guess, share, words = leaning_to
            ranked.append((guess, 0))
            if guess is not vocabulary.fallback:
                ranked.append((vocabulary.fallback, 0))
            reasons.append(
                f"no category words found: the wording as a whole leans to {guess.value} "
                f"({share:.0%} by the category model: {quote_all(words)}), "
                "for an officer to review"
            )
    for category, score, hits in scored[:3]:
        reasons.append(f"category {category.value} ({score}): {_quote(report, hits)}")

    graffiti = any(category is Category.GRAFFITI for category, _ in ranked)
    offensive = graffiti and (hate_flag or bool(extra["offensive_graffiti"]))
    if offensive:
        reasons.append("offensive graffiti: hateful or obscene words or symbols")
    third_party_hits = extra["third_party"]
    if third_party_hits:
        reasons.append(f"reported on someone's behalf: {_quote(report, third_party_hits, 2)}")

    return Classification(
        category=ranked[0][0],
        categories=tuple(category for category, _ in ranked),
        scores=tuple(score for _, score in ranked),
        hate=hate_flag,
        hate_strands=hate_strands,
        emergency=emergency_flag,
        emergency_kinds=emergency_kinds,
        not_asb=not_asb,
        severity=tuple(kind for kind in SEVERITY_KINDS if kind in severity),
        third_party=bool(third_party_hits),
        offensive_graffiti=offensive,
        matched=matched,
        reasons=tuple(reasons),
    )
