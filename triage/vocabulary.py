"""Phrase tables compiled from the YAML vocabularies in ``triage/data``.

Vocabulary is data, not code: every cue the classifier knows is a phrase in a data file with a
weight, and this module turns those files into compiled regular expressions once, on first
use. A phrase is a regular expression over normalised text (see :mod:`triage.text`) with two
conveniences:

* ``{name}`` expands to the file's macro of that name (e.g. ``{race_group}``);
* `` ~ `` stands for "up to four other words in the same sentence", `` ~~ `` for up to eight.

A phrase always matches whole words. Phrases may be masked (``masks:``): spans such as
"fire alarm test" or "not being racist but" are blanked before a table is matched, which is
how figurative and negated uses are kept out. A table may also be *negatable*: a hit right
after "not", "never", "didn't" ... is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

_MACRO_RE = re.compile(r"\{([a-z_]+)\}")
_GAPS = ((" ~~ ", r"(?: [^ .]+){0,8} "), (" ~ ", r"(?: [^ .]+){0,4} "))


def load_data(name: str) -> dict[str, Any]:
    """Read one of the package's data files.

    Args:
        name: File name inside ``triage/data``, e.g. ``"hate.yaml"``.

    Returns:
        The parsed YAML mapping.
    """
    text = resources.files("triage").joinpath("data", name).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"triage/data/{name} must hold a mapping at the top level")
    return data


def expand(phrase: str, macros: Mapping[str, str]) -> str:
    """Turn a phrase as written in a data file into a regular expression.

    Args:
        phrase: The phrase, with ``{macro}`` references and ``~`` gaps.
        macros: The file's macros, already expanded.

    Returns:
        A regular expression (not anchored to word boundaries).

    Raises:
        KeyError: If the phrase names a macro the file does not define.
    """
    for _ in range(5):
        if "{" not in phrase:
            break
        phrase = _MACRO_RE.sub(lambda m: "(?:" + macros[m.group(1)] + ")", phrase)
    for gap, pattern in _GAPS:
        phrase = phrase.replace(gap, pattern)
    return phrase


def expand_macros(raw: Mapping[str, Any] | None) -> dict[str, str]:
    """Expand a file's ``macros:`` section; a list becomes an alternation."""
    macros: dict[str, str] = {}
    for name, value in (raw or {}).items():
        body = "|".join(str(v) for v in value) if isinstance(value, list) else str(value)
        macros[str(name)] = expand(body, macros)
    return macros


@dataclass(frozen=True, slots=True)
class Hit:
    """One phrase found in a normalised report.

    Attributes:
        label: The table's label (a category, a strand, a cue kind...).
        weight: The phrase's weight in its table.
        start: Offset of the match in the normalised text.
        end: Offset just past the match.
        phrase: The matched normalised words.
        tag: Free-form qualifier from the data file (e.g. ``"now"`` for an emergency cue).
    """

    label: str
    weight: int
    start: int
    end: int
    phrase: str
    tag: str = ""


class Negation:
    """Decides whether a hit is negated by the words just before it."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        """Compile the negators and their exceptions from ``negation.yaml``."""
        negators = "|".join(str(w) for w in data["negators"])
        exceptions = "|".join(str(w) for w in data["not_negating_after"])
        self._window = int(data["window_words"])
        self._pattern = re.compile(rf"(?<![^ ])(?:{negators})(?![^ ])(?! (?:{exceptions})(?![^ ]))")

    def negates(self, text: str, start: int) -> bool:
        """True if a negator stands within the window before ``start``, in the same sentence.

        Args:
            text: The normalised (possibly masked) text.
            start: Where the hit starts.
        """
        before = text[:start].rsplit(" . ", 1)[-1]
        window = " ".join(before.split()[-self._window :])
        return self._pattern.search(window) is not None


@lru_cache(maxsize=1)
def negation() -> Negation:
    """The shared negation rules."""
    return Negation(load_data("negation.yaml"))


class Masks:
    """Spans blanked out before a table is matched (figurative uses, disclaimers)."""

    def __init__(self, phrases: Iterable[str], macros: Mapping[str, str]) -> None:
        """Compile the mask phrases into one pattern."""
        patterns = [expand(str(p), macros) for p in phrases]
        self._pattern = (
            re.compile(r"(?<![^ ])(?:" + "|".join(patterns) + r")(?![^ ])") if patterns else None
        )

    def apply(self, text: str) -> tuple[str, tuple[str, ...]]:
        """Blank masked spans, keeping every offset.

        Returns:
            The masked text, and the masked phrases (for reasons).
        """
        if self._pattern is None:
            return text, ()
        found: list[str] = []

        def blank(match: re.Match[str]) -> str:
            found.append(match.group(0))
            return re.sub(r"[^ ]", "-", match.group(0))

        return self._pattern.sub(blank, text), tuple(found)


class PhraseTable:
    """All the phrases for one label, compiled into one regular expression."""

    def __init__(
        self,
        label: str,
        phrases: Iterable[tuple[str, int, str]],
        macros: Mapping[str, str],
        *,
        negatable: bool = False,
    ) -> None:
        """Compile a table.

        Args:
            label: What a hit in this table means.
            phrases: ``(phrase, weight, tag)`` triples as written in the data file.
            macros: The file's expanded macros.
            negatable: Whether a preceding negator cancels a hit.
        """
        self.label = label
        self.negatable = negatable
        self._weights: list[int] = []
        self._tags: list[str] = []
        parts: list[str] = []
        for index, (phrase, weight, tag) in enumerate(phrases):
            parts.append(f"(?P<p{index}>{expand(phrase, macros)})")
            self._weights.append(weight)
            self._tags.append(tag)
        body = "|".join(parts) or "(?!)"
        try:
            self._pattern = re.compile(r"(?<![^ ])(?:" + body + r")(?![^ ])")
        except re.error as exc:  # pragma: no cover - caught by the data tests
            raise ValueError(f"bad phrase in table {label!r}: {exc}") from exc

    def find(self, text: str) -> list[Hit]:
        """Every non-overlapping phrase of this table in ``text``, negated ones left out."""
        hits: list[Hit] = []
        for match in self._pattern.finditer(text):
            if self.negatable and negation().negates(text, match.start()):
                continue
            index = int(str(match.lastgroup)[1:])
            hits.append(
                Hit(
                    label=self.label,
                    weight=self._weights[index],
                    start=match.start(),
                    end=match.end(),
                    phrase=match.group(0),
                    tag=self._tags[index],
                )
            )
        return hits


def weighted_phrases(raw: Mapping[Any, Any] | list[Any]) -> list[tuple[str, int, str]]:
    """Read a table written as ``{weight: [phrases]}`` or as a plain list (weight 1).

    A phrase may also be written ``{phrase: "...", tag: "now"}`` to carry a tag.
    """
    groups: Iterable[tuple[Any, Any]] = raw.items() if isinstance(raw, Mapping) else [(1, raw)]
    phrases: list[tuple[str, int, str]] = []
    for weight, items in groups:
        for item in items:
            if isinstance(item, Mapping):
                phrases.append((str(item["phrase"]), int(weight), str(item.get("tag", ""))))
            else:
                phrases.append((str(item), int(weight), ""))
    return phrases


def quote_all(phrases: Iterable[str]) -> str:
    """Phrases as a reason quotes them: ``'knife', 'right now'``."""
    seen: list[str] = []
    for phrase in phrases:
        if phrase not in seen:
            seen.append(phrase)
    return ", ".join(f"'{p}'" for p in seen)
