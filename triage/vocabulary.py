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
import re._parser as sre_parse  # type: ignore[import-not-found]
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache, reduce
from importlib import resources
from itertools import repeat
from operator import or_
from typing import Any, NamedTuple

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
    for _ in range(8):
        if _MACRO_RE.search(phrase) is None:
            break
        phrase = _MACRO_RE.sub(lambda m: "(?:" + macros[m.group(1)] + ")", phrase)
    for gap, pattern in _GAPS:
        phrase = phrase.replace(gap, pattern)
    return _PLAIN_GROUP.sub(_fold_group, phrase)


_PLAIN_GROUP = re.compile(r"(?<!\\)\((?:\?:)?([a-z0-9 ]+(?:\|[a-z0-9 ]+){3,})\)")


def _fold_group(match: re.Match[str]) -> str:
    """A group of four or more plain words, "(a|b|c|d)", rewritten as a trie."""
    return "(?:" + _trie(match.group(1).split("|")) + ")"


_PLAIN = re.compile(r"[a-z0-9 ]+")


def _trie(words: Iterable[str]) -> str:
    """Plain words as one regular expression shaped like a trie: "b(?:lack(?:s)?|rown)".

    Python's ``re`` tries the branches of an alternation one by one; a macro of three
    hundred group names tried at every candidate word is the slowest thing a phrase does.
    Sharing prefixes lets a mismatch fail at the first letter that differs.
    """
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(char) + pattern(child) for char, child in node.items() if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return "(?:" + body + ")?"
        return body

    return pattern(root)


def _alternation(value: Any) -> str:
    """A macro's body: a list becomes an alternation, its plain words folded into a trie."""
    if not isinstance(value, list):
        return str(value)
    items = [str(v) for v in value]
    plain = [item for item in items if _PLAIN.fullmatch(item)]
    others = [item for item in items if not _PLAIN.fullmatch(item)]
    return "|".join(([_trie(plain)] if plain else []) + others)


def expand_macros(raw: Mapping[str, Any] | None) -> dict[str, str]:
    """Expand a file's ``macros:`` section; a list becomes an alternation.

    A macro may name any other macro of the file, defined before or after it.
    """
    bodies = {str(name): _alternation(value) for name, value in (raw or {}).items()}
    return {name: expand(body, bodies) for name, body in bodies.items()}


_ZERO_WIDTH = frozenset({sre_parse.ASSERT, sre_parse.ASSERT_NOT, sre_parse.AT})
_REPEATS = frozenset({sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT})
_MAX_FIRST_WORDS = 20000
_MAX_SECOND_WORDS = 1500
_MIN_PREFIX = 2
_TOKEN_CACHE_SIZE = 50_000
_COMMON_WORDS = frozenset(
    "the a an my i on is has in at have he they his it im to her she for of and our their we "
    "you was be me are been from not with so but all just this that there what when who up out "
    "about as by if no or one get got can do dont will would him them us your its were had "
    "said says did very really now again every next door neighbour neighbours which then over "
    "some any been being go going come came know like time day night back off into".split()
)


@lru_cache(maxsize=8192)
def _parsed(pattern: str) -> tuple[Any, ...]:
    """A phrase parsed once for all the analyses below (parsing is most of the load time)."""
    return tuple(sre_parse.parse(pattern))


class _TooBroad(Exception):
    """A phrase's first word cannot be listed; it is searched for everywhere instead."""


def _charset(items: list[Any]) -> set[str] | None:
    """The characters a character class can match, or None if it is too broad to list."""
    chars: set[str] = set()
    for op, av in items:
        if op is sre_parse.LITERAL:
            chars.add(chr(av))
        elif op is sre_parse.RANGE and av[1] - av[0] < 12:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        else:
            return None
    return chars


def _first_words(
    items: list[Any],
    word: str,
    found: set[tuple[str, bool]],
    words: int = 1,
    limit: int = _MAX_FIRST_WORDS,
    lenient: bool = False,
) -> None:
    """Add to ``found`` every first word a parsed phrase can start with.

    Each entry is ``(word, exact)``: exact words must equal a token of the text, inexact
    ones must begin one ("harass" for ``harass\\w*``). With ``lenient``, a way of matching
    whose later words cannot be listed gives up only on itself: once its first word is read
    it is recorded as inexact (any word may follow) rather than making the whole phrase too
    broad.
    """
    if len(found) > limit:
        raise _TooBroad
    for index, (op, av) in enumerate(items):
        rest = items[index + 1 :]
        if op in _ZERO_WIDTH:
            continue
        if op is sre_parse.LITERAL:
            char = chr(av)
            if char == " ":
                if not word or word.endswith(" "):
                    if lenient and " " in word:
                        found.add((word, False))
                        return
                    raise _TooBroad
                if word.count(" ") + 1 >= words:
                    found.add((word, True))
                    return
            word += char
            continue
        if op is sre_parse.IN:
            chars = _charset(av)
            if chars is None:
                break
            for char in chars:
                _first_words(
                    [(sre_parse.LITERAL, ord(char)), *rest], word, found, words, limit, lenient
                )
            return
        if op is sre_parse.SUBPATTERN:
            _first_words([*av[-1], *rest], word, found, words, limit, lenient)
            return
        if op is sre_parse.BRANCH:
            for branch in av[1]:
                _first_words([*branch, *rest], word, found, words, limit, lenient)
            return
        if op in _REPEATS and av[0] == 0 and av[1] == 1:
            _first_words([*av[2], *rest], word, found, words, limit, lenient)
            _first_words(list(rest), word, found, words, limit, lenient)
            return
        if op in _REPEATS and av[2] and tuple(av[2][0]) == (sre_parse.LITERAL, ord(" ")):
            if not word or word.endswith(" "):  # a "~" gap ends the word just read
                if lenient and " " in word:
                    found.add((word, False))
                    return
                raise _TooBroad
            found.add((word, True))
            return
        break
    else:
        if not word:
            raise _TooBroad
        found.add((word, True))
        return
    if len(word.rsplit(" ", 1)[-1]) < _MIN_PREFIX and not (lenient and " " in word):
        raise _TooBroad
    found.add((word, False))


def second_words(
    pattern: str, limit: int = _MAX_FIRST_WORDS, *, lenient: bool = False
) -> dict[str, frozenset[str] | None]:
    """Per first word of a phrase, the exact words that can follow it (None: any word).

    Used for phrases that start with a common word ("the", "my"): after such a word they are
    tried only where one of their second words follows. ``(the )?(church )?bells`` is tried
    after "the" only before "church" or "bells". With ``lenient``, a first word after which
    some way of matching cannot be listed ("my \\w+ is") gets None, and the other first
    words keep their lists.
    """
    found: set[tuple[str, bool]] = set()
    try:
        _first_words(list(_parsed(pattern)), "", found, words=2, limit=limit, lenient=lenient)
    except _TooBroad:
        return {}
    seconds: dict[str, set[str] | None] = {}
    for entry, exact in found:
        first, _, second = entry.partition(" ")
        if not second or not exact:
            seconds[first] = None
            continue
        listed = seconds.setdefault(first, set())
        if listed is not None:
            listed.add(second)
    return {w: frozenset(listed) if listed is not None else None for w, listed in seconds.items()}


def _ends_with_space(item: tuple[Any, Any]) -> bool:
    """Whether every way of matching a parsed item ends with a space (a word boundary)."""
    op, av = item
    if op is sre_parse.LITERAL:
        return bool(av == ord(" "))
    if op is sre_parse.SUBPATTERN:
        body = list(av[-1])
        return bool(body) and _ends_with_space(body[-1])
    if op is sre_parse.BRANCH:
        return all(branch and _ends_with_space(list(branch)[-1]) for branch in av[1])
    if op in _REPEATS:
        body = list(av[2])
        return bool(body) and _ends_with_space(body[-1])
    return False


def required_words(pattern: str) -> tuple[frozenset[str], ...]:
    """Sets of words, one word of each of which must stand in a text for the phrase to match.

    A phrase such as ``(call\\w*|hit) ~~ (because|cos) ...`` is indexed by its first words,
    which are common; but it can only match a report that also has "because" or "cos" in it.
    Each later word boundary of the phrase is tried, and the exact words that can start the
    rest of the phrase there are returned for the rarest such boundary (None if none can be
    listed). Checking them against a report's words skips most hopeless tries. The rarest
    sets (fewest common words, then fewest words) come first; at most three are kept.
    """
    items = list(_parsed(pattern))
    sets: list[frozenset[str]] = []
    for index, item in enumerate(items[:-1]):
        if not _ends_with_space(item):
            continue
        found: set[tuple[str, bool]] = set()
        try:
            _first_words(items[index + 1 :], "", found)
        except _TooBroad:
            continue
        if not found or not all(exact for _, exact in found):
            continue
        sets.append(frozenset(word for word, _ in found))
    sets.sort(key=lambda words: (len(words & _COMMON_WORDS), len(words)))
    return tuple(sets[:3])


def first_words(pattern: str) -> set[tuple[str, bool]] | None:
    """The words a phrase can start with, or None if they cannot be listed.

    Python's ``re`` tries every branch of an alternation at every position, which with
    hundreds of phrases per report is far too slow. Instead each phrase is indexed by the
    words it can start with, and tried only where such a word stands.
    """
    found: set[tuple[str, bool]] = set()
    try:
        _first_words(list(_parsed(pattern)), "", found)
    except _TooBroad:
        return None
    return found


_CATEGORY_CLASSES = {
    sre_parse.CATEGORY_DIGIT: r"\d",
    sre_parse.CATEGORY_NOT_DIGIT: r"\D",
    sre_parse.CATEGORY_SPACE: r"\s",
    sre_parse.CATEGORY_NOT_SPACE: r"\S",
    sre_parse.CATEGORY_WORD: r"\w",
    sre_parse.CATEGORY_NOT_WORD: r"\W",
}


class _Unsupported(Exception):
    """A construct :func:`_cut_short` does not rewrite: no opening test for the phrase."""


def _class_body(items: list[Any]) -> str:
    """A parsed character class written out again, without its brackets."""
    parts: list[str] = []
    for op, av in items:
        if op is sre_parse.NEGATE:
            parts.insert(0, "^")
        elif op is sre_parse.LITERAL:
            parts.append(re.escape(chr(av)))
        elif op is sre_parse.RANGE:
            parts.append(re.escape(chr(av[0])) + "-" + re.escape(chr(av[1])))
        elif op is sre_parse.CATEGORY and av in _CATEGORY_CLASSES:
            parts.append(_CATEGORY_CLASSES[av])
        else:
            raise _Unsupported
    return "".join(parts)


def _cut_short(items: Iterable[tuple[Any, Any]]) -> str:
    r"""A parsed expression rewritten to also match any text that stops part way through.

    Every character it reads may instead be the end of the text (``(?:x|\Z)``), and the
    assertions that could refuse a shortened text (lookbehinds, negative lookaheads,
    anchors) are left out. So wherever the expression matches some text, the rewritten one
    matches every beginning of that text: trying it on the few words at hand is a safe test
    of whether the expression could match there at all. Anything else (back references,
    atomic groups, scoped flags) raises :class:`_Unsupported`.
    """
    parts: list[str] = []
    for op, av in items:
        if op is sre_parse.LITERAL:
            parts.append("(?:" + re.escape(chr(av)) + r"|\Z)")
        elif op is sre_parse.NOT_LITERAL:
            parts.append("(?:[^" + re.escape(chr(av)) + r"]|\Z)")
        elif op is sre_parse.ANY:
            parts.append(r"(?:.|\Z)")
        elif op is sre_parse.IN:
            parts.append("(?:[" + _class_body(av) + r"]|\Z)")
        elif op is sre_parse.SUBPATTERN:
            _, add_flags, del_flags, body = av
            if add_flags or del_flags:
                raise _Unsupported
            parts.append("(?:" + _cut_short(body) + ")")
        elif op is sre_parse.BRANCH:
            parts.append("(?:" + "|".join(_cut_short(branch) for branch in av[1]) + ")")
        elif op is sre_parse.MAX_REPEAT or op is sre_parse.MIN_REPEAT:
            low, high, body = av
            most = "" if high == sre_parse.MAXREPEAT else str(high)
            lazy = "?" if op is sre_parse.MIN_REPEAT else ""
            parts.append(f"(?:{_cut_short(body)}){{{low},{most}}}{lazy}")
        elif op is sre_parse.ASSERT and av[0] == 1:
            parts.append("(?=" + _cut_short(av[1]) + ")")
        elif op in _ZERO_WIDTH:
            continue  # a lookbehind, a negative lookahead or an anchor: it only narrows
        else:
            raise _Unsupported
    return "".join(parts)


def opening_test(pattern: str) -> Callable[[str], re.Match[str] | None] | None:
    r"""A quick test of whether ``pattern`` could match a text beginning as given.

    For the phrases whose first words cannot be listed (``\d+ times``, ``(\w+s) partner``):
    instead of trying such a phrase at every word of every report, each word is tested once
    (the answer is kept with the word's other candidates) and the phrase is tried only at
    the words that pass. The test is given exactly the text the phrase would see from where
    it is tried up to the end of the first word; a phrase cannot match where the test fails.

    Returns:
        The test's ``match`` (truthy where ``pattern`` could match), or None if the phrase
        uses something the rewriting does not handle and must be tried everywhere.
    """
    try:
        return re.compile(_cut_short(_parsed(pattern))).match
    except (_Unsupported, re.error, RecursionError):
        return None


_OPENING_PROBE = "qqq"
"""A made-up word: a phrase that could start with it could start with almost any word, and
is better left to ``finditer`` than tested word by word."""


class Hit(NamedTuple):
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
        before = text[max(start - 80, 0) : start].rsplit(" . ", 1)[-1]
        window = " ".join(before.split()[-self._window :])
        return self._pattern.search(window) is not None


@lru_cache(maxsize=1)
def negation() -> Negation:
    """The shared negation rules."""
    return Negation(load_data("negation.yaml"))


_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")


class Alternation:
    """Phrases searched for as ``(?<![^ ])(?:p1|p2|...)(?![^ ])``, one word at a time.

    A search of one big alternation tries every phrase at every character, the slowest
    thing Python's ``re`` does. This finds the same first match (the leftmost; there, the
    first phrase in the file's order) by trying, at each word, only the phrases that can
    start with that word (see :func:`first_words`); phrases whose first words cannot be
    listed are tried at every word.
    """

    def __init__(self, phrases: Iterable[str], macros: Mapping[str, str]) -> None:
        """Compile the phrases, each on its own, and index them by their first words."""
        bodies = [expand(str(phrase), macros) for phrase in phrases]
        self.pattern = re.compile(r"(?<![^ ])(?:" + "|".join(bodies) + r")(?![^ ])")
        """The whole alternation, as one expression."""
        compiled = [re.compile("(?:" + body + r")(?![^ ])") for body in bodies]
        self._matchers = tuple(phrase.match for phrase in compiled)
        self._exact: dict[str, list[int]] = {}
        self._prefix: dict[str, list[int]] = {}
        self._anywhere: list[int] = []
        self._by_word: dict[str, tuple[Callable[[str, int], re.Match[str] | None], ...]] = {}
        self._openings: dict[int, Callable[[str], re.Match[str] | None] | None] = {}
        """Per phrase tried at every word, its :func:`opening_test` (None: no test)."""
        self._whole = any(_BACKREFERENCE.search(body) for body in bodies)
        """A phrase refers to a group by number or name: search the whole expression."""
        for number, body in enumerate(bodies):
            words = first_words(body)
            if words is None:
                self._anywhere.append(number)
                self._openings[number] = opening_test(compiled[number].pattern)
                continue
            for word, exact in words:
                (self._exact if exact else self._prefix).setdefault(word, []).append(number)
        self._prefix_lengths = sorted({len(word) for word in self._prefix})

    def _at(self, word: str) -> tuple[Callable[[str, int], re.Match[str] | None], ...]:
        """The phrases that can start at ``word``, in the file's order (memoised).

        A phrase without listed first words is kept if its opening test passes on the word
        as the last of the text or followed by a space (the test sees no further).
        """
        numbers = set()
        for number in self._anywhere:
            test = self._openings[number]
            if test is None or test(word) or test(word + " "):
                numbers.add(number)
        numbers.update(self._exact.get(word, ()))
        for length in self._prefix_lengths:
            if length > len(word):
                break
            numbers.update(self._prefix.get(word[:length], ()))
        if len(self._by_word) >= _TOKEN_CACHE_SIZE:
            self._by_word.clear()
        matchers = self._by_word[word] = tuple(self._matchers[n] for n in sorted(numbers))
        return matchers

    def search(self, text: str) -> re.Match[str] | None:
        """The first match in ``text``, as ``self.pattern.search(text)`` finds it.

        The match holds the same span and text (``start``, ``end``, ``group(0)``); its groups
        are the matching phrase's own.
        """
        if self._whole:
            return self.pattern.search(text)
        by_word = self._by_word
        at = 0
        for word in text.split(" "):
            matchers = by_word.get(word)
            if matchers is None:
                matchers = self._at(word)
            for match in matchers:
                found = match(text, at)
                if found is not None:
                    return found
            at += len(word) + 1
        return None


class Masks:
    """Spans set aside before a table is read (figurative uses, disclaimers).

    "The noise is killing me" is not a threat and "I'm not being racist but" is not hate: a
    hit that overlaps a masked span does not count.
    """

    def __init__(self, label: str, phrases: Iterable[str], macros: Mapping[str, str]) -> None:
        """Compile the mask phrases into one table named ``label``."""
        self.table = PhraseTable(label, [(str(p), 1, "") for p in phrases], macros)

    @staticmethod
    def keep(hits: Iterable[Hit], masked: list[Hit]) -> list[Hit]:
        """The hits that overlap no masked span."""
        if not masked or not hits:
            return list(hits)
        return [
            hit
            for hit in hits
            if all(hit.end <= mask.start or hit.start >= mask.end for mask in masked)
        ]

    @staticmethod
    def blank(text: str, masked: list[Hit]) -> str:
        """``text`` with the masked spans blanked out, keeping every offset."""
        if not masked:
            return text
        chars = list(text)
        for mask in masked:
            for at in range(mask.start, mask.end):
                if chars[at] != " ":
                    chars[at] = "-"
        return "".join(chars)


@dataclass(frozen=True, slots=True)
class _Phrase:
    table: int
    pattern: re.Pattern[str]
    weight: int
    tag: str
    second: frozenset[str] | None = None
    """When set, the phrase is only tried where one of these words comes second."""
    required: frozenset[str] | None = None
    """When set, the phrase is only tried in a text holding one of these words."""
    needs: tuple[frozenset[str], ...] = ()
    """Every set of words of which the text must hold one (see :func:`required_words`)."""


_Info = tuple[int, str, int, str, bool]
"""What a hit records: table number, label, weight, tag, and whether a negator cancels it."""
_Entry = tuple[int, Callable[[str, int], "re.Match[str] | None"], _Info]
"""A phrase to try: the bits of the word sets it needs (see :meth:`PhraseGroup._needed`), its
matcher, and what it records."""
_Entries = tuple[_Entry, ...]
_Candidates = tuple[_Entries, dict[str, _Entries], tuple[int, ...]]
"""The phrases to try at a word (see :meth:`PhraseGroup._candidates`), and which of the
phrases without listed first words could start there (see :func:`opening_test`)."""
_NO_CANDIDATES: _Candidates = ((), {}, ())


class PhraseTable:
    """The phrases for one label: a category, a hate strand, a kind of danger..."""

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
        self.phrases: list[tuple[str, int, str]] = []
        for phrase, weight, tag in phrases:
            pattern = expand(phrase, macros)
            try:
                _parsed(pattern)
            except re.error as exc:
                raise ValueError(f"bad phrase in table {label!r}: {phrase!r}: {exc}") from exc
            self.phrases.append((pattern, weight, tag))
        self._group: PhraseGroup | None = None

    def find(self, text: str) -> list[Hit]:
        """Every phrase of this table in ``text``, negated ones left out."""
        if self._group is None:
            self._group = PhraseGroup([self])
        return self._group.find(text)[0]


class PhraseGroup:
    """Several tables matched against the same text in one pass over its words."""

    def __init__(self, tables: Iterable[PhraseTable]) -> None:
        """Index every phrase of the tables by the words it can start with."""
        self.tables = tuple(tables)
        self._exact: dict[str, list[_Phrase]] = {}
        self._prefix: dict[str, list[_Phrase]] = {}
        self._anywhere: list[_Phrase] = []
        self._nexts: dict[tuple[str, _Phrase], frozenset[str]] = {}
        """Per first word and phrase indexed by it, the words that can come next (if listed)."""
        for number, table in enumerate(self.tables):
            for pattern, weight, tag in table.phrases:
                words = first_words(pattern)
                common = words is not None and any(w in _COMMON_WORDS for w, _ in words)
                seconds = (
                    second_words(pattern, _MAX_FIRST_WORDS if common else _MAX_SECOND_WORDS)
                    if words is not None
                    else {}
                )
                try:
                    compiled = re.compile(" (?:" + pattern + ")(?= )")
                except re.error as exc:
                    raise ValueError(f"bad phrase in table {table.label!r}: {exc}") from exc
                needs = required_words(pattern)
                phrase = _Phrase(
                    number, compiled, weight, tag, None, next(iter(needs), None), needs
                )
                if words is None:
                    self._anywhere.append(phrase)
                    continue
                nexts = second_words(pattern, lenient=True)
                for word, exact in words:
                    second = seconds.get(word) if exact else None
                    indexed = phrase if second is None else replace(phrase, second=second)
                    (self._exact if exact else self._prefix).setdefault(word, []).append(indexed)
                    listed = nexts.get(word) if exact else None
                    if listed is not None:
                        self._nexts[word, indexed] = listed
        self._prefix_lengths = sorted({len(word) for word in self._prefix})
        self._by_token: dict[str, _Candidates] = {}
        self._needs: dict[frozenset[str], int] = {}
        self._needs_list: list[frozenset[str]] = [frozenset()]
        for phrases in (*self._exact.values(), *self._prefix.values()):
            for phrase in phrases:
                self._needed(phrase.needs)
        self._anywhere_needs = tuple(self._needed(phrase.needs) for phrase in self._anywhere)
        self._openings: list[tuple[int, Callable[[str], re.Match[str] | None]]] = []
        """The phrases without listed first words that are tried word by word, each with
        its opening test (by number in ``_anywhere``); the others are scanned for with
        ``finditer``, as are those that could start with almost any word."""
        for number, phrase in enumerate(self._anywhere):
            test = opening_test(phrase.pattern.pattern)
            if test is not None and not test(f" {_OPENING_PROBE} "):
                self._openings.append((number, test))
        self._tested = frozenset(number for number, _ in self._openings)
        by_word: dict[str, int] = {}
        for number, listed in enumerate(self._needs_list):
            for word in listed:
                by_word[word] = by_word.get(word, 0) | 1 << number
        self._needs_by_word = by_word
        """Per word, the bits of the word sets holding it (see :meth:`_needed`)."""

    def _entries(self, phrases: Iterable[_Phrase]) -> list[_Phrase]:
        """Phrases gathered by the words they need, in the order the inner loop tries them."""
        groups: dict[frozenset[str] | None, list[_Phrase]] = {}
        for phrase in phrases:
            groups.setdefault(phrase.required, []).append(phrase)
        return [phrase for members in groups.values() for phrase in members]

    def _flat(self, phrases: Iterable[_Phrase]) -> _Entries:
        """Phrases flattened for the inner loop."""
        entries: list[_Entry] = []
        for phrase in phrases:
            table = self.tables[phrase.table]
            info = (phrase.table, table.label, phrase.weight, phrase.tag, table.negatable)
            entries.append((self._needed(phrase.needs), phrase.pattern.match, info))
        return tuple(entries)

    def _needed(self, needs: Iterable[frozenset[str]]) -> int:
        """The bits of the word sets a phrase needs: one bit per set, numbered as first met.

        A report holds a set's bit if it holds one of its words (bit 0 it always holds); a
        phrase is tried only in a report holding all of its bits.
        """
        bits = 1
        for words in needs:
            number = self._needs.get(words)
            if number is None:
                number = self._needs[words] = len(self._needs_list)
                self._needs_list.append(words)
            bits |= 1 << number
        return bits

    def _candidates(self, token: str) -> _Candidates:
        """The phrases that can start at a word (memoised: words repeat across reports).

        Returned as the phrases to try whatever follows, and per second word the phrases to
        try before it: those same phrases, then the ones that need that second word.
        """
        cached = self._by_token.get(token)
        if cached is not None:
            return cached
        seen = f" {token} "
        opening = tuple(number for number, test in self._openings if test(seen))
        found = list(self._exact.get(token, ()))
        for length in self._prefix_lengths:
            if length > len(token):
                break
            found.extend(self._prefix.get(token[:length], ()))
        if len(self._by_token) >= _TOKEN_CACHE_SIZE:
            self._by_token.clear()
        if not found:
            cached = self._by_token[token] = ((), {}, opening) if opening else _NO_CANDIDATES
            return cached
        anywhere: list[_Phrase] = []
        by_second: dict[str, list[_Phrase]] = {}
        for phrase in dict.fromkeys(found):
            if phrase.second is None:
                anywhere.append(phrase)
            else:
                for word in phrase.second:
                    by_second.setdefault(word, []).append(phrase)
        first = self._entries(anywhere)
        tried = {word: first + self._entries(p) for word, p in by_second.items()}
        # Then leave out, per word that follows, the phrases that cannot go on with it. A
        # phrase found twice alike (by the word and by a prefix of it) is tried once, if
        # either lets it be.
        nexts: dict[_Phrase, frozenset[str] | None] = {}
        exact = len(self._exact.get(token, ()))
        for at, phrase in enumerate(found):
            listed = self._nexts.get((token, phrase)) if at < exact else None
            if phrase in nexts:
                known = nexts[phrase]
                listed = None if known is None or listed is None else known | listed
            nexts[phrase] = listed
        following: set[str] = set(tried)
        for listed in nexts.values():
            if listed is not None:
                following |= listed
        default = [phrase for phrase in first if nexts[phrase] is None]
        default_entries = self._flat(default)
        per_word: dict[str, _Entries] = {}
        for word in following:
            kept = [
                phrase
                for phrase in tried.get(word, first)
                if (listed := nexts[phrase]) is None or word in listed
            ]
            if kept != default:
                per_word[word] = self._flat(kept)
        result = (default_entries, per_word, opening)
        self._by_token[token] = result
        return result

    def find(self, text: str) -> list[list[Hit]]:
        """Hits per table, in table order; a phrase is found wherever it matches.

        Phrases without listed first words are found as ``finditer`` finds them (leftmost
        first, none overlapping another of the same phrase) and listed after the others.
        """
        padded = f" {text} "
        found: list[list[Hit]] = [[] for _ in self.tables]
        tokens = text.split(" ")
        following = tokens[1:]
        following.append("")
        present = frozenset(tokens)
        # The bits of the word sets (see _needed) of which this text holds a word.
        held = reduce(or_, map(self._needs_by_word.get, present, repeat(0)), 1)
        by_token = self._by_token
        candidates = self._candidates
        new_hit = tuple.__new__
        negated: dict[int, bool] = {}
        # Per phrase tried word by word (see _openings): where its last match ended, and
        # the spans it matched.
        free_from: dict[int, int] = {}
        opened: dict[int, list[tuple[int, int]]] = {}
        end = -1
        for token, after in zip(tokens, following, strict=True):
            start = end + 1
            end = start + len(token)
            cached = by_token.get(token)
            if cached is None:
                cached = candidates(token)
            entries, by_second, opening = cached
            if by_second:
                entries = by_second.get(after, entries)
            for needed, match_at, info in entries:
                if held & needed != needed:
                    continue
                match = match_at(padded, start)
                if match is None:
                    continue
                number, label, weight, tag, negatable = info
                if negatable:
                    cancelled = negated.get(start)
                    if cancelled is None:
                        cancelled = negated[start] = negation().negates(text, start)
                    if cancelled:
                        continue
                stop = match.end() - 1
                found[number].append(
                    new_hit(Hit, (label, weight, start, stop, text[start:stop], tag))
                )
            if opening:
                self._open(opening, padded, start, held, free_from, opened)
        for index, (phrase, needed) in enumerate(
            zip(self._anywhere, self._anywhere_needs, strict=True)
        ):
            if held & needed != needed:
                continue  # it cannot match without one word of each of these sets
            if index in self._tested:
                for start, stop in opened.get(index, ()):
                    self._record(found, phrase, text, start, stop)
                continue
            for match in phrase.pattern.finditer(padded):
                self._record(found, phrase, text, match.start(), match.end() - 1)
        return found

    def _open(
        self,
        opening: tuple[int, ...],
        padded: str,
        start: int,
        held: int,
        free_from: dict[int, int],
        opened: dict[int, list[tuple[int, int]]],
    ) -> None:
        """Try at one word the phrases without listed first words that could start there.

        Each phrase is tried as ``finditer`` would come to it: not inside its last match.
        """
        for index in opening:
            needed = self._anywhere_needs[index]
            if held & needed != needed or start < free_from.get(index, 0):
                continue
            match = self._anywhere[index].pattern.match(padded, start)
            if match is not None:
                free_from[index] = match.end()
                opened.setdefault(index, []).append((start, match.end() - 1))

    def _record(
        self, found: list[list[Hit]], phrase: _Phrase, text: str, start: int, end: int
    ) -> None:
        table = self.tables[phrase.table]
        if table.negatable and negation().negates(text, start):
            return
        found[phrase.table].append(
            Hit(table.label, phrase.weight, start, end, text[start:end], phrase.tag)
        )


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
    seen = dict.fromkeys(phrases)
    return "'" + "', '".join(seen) + "'" if seen else ""
