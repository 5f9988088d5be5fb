"""Normalising a report's words before any vocabulary is matched.

Reports arrive as 3 am texts, long emails and chat fragments: "nabour threatend 2 stab me",
"loud musik", "he's got a knife!!". Everything after this module works on one canonical form:
lower case, apostrophes dropped ("won't" -> "wont"), texting shorthand and common misspellings
expanded from ``data/shorthand.yaml``, censored or leetspeak words ("p*ki", "n1gger") restored,
quoted email history cut off, and sentence ends kept as ``.`` tokens so that cues are matched
within one sentence. Each normalised word remembers the word the reporter wrote, so reasons
can quote the report rather than our rewriting of it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import accumulate, chain, repeat
from operator import add
from typing import cast

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from triage.vocabulary import load_data

_ING_WORD = re.compile(r"(?<![a-z\\])([a-z]{3,}ing)(?![a-z])")

_TOKEN_RE = re.compile(r"[a-z0-9*#@$]+(?:['’][a-z0-9*#@$]+)*|[.!?;]+")
_SENTENCE_END = "."
_CENSOR_CHARS = frozenset("*#@$")
_LEET = str.maketrans(
    {"4": "a", "@": "a", "1": "i", "!": "i", "3": "e", "0": "o", "$": "s", "5": "s", "7": "t"}
)
_CHARACTER_FOLDS = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "ʼ": "'",
        "`": "'",
        "´": "'",
        "“": '"',
        "”": '"',
        "–": " ",
        "—": " ",
        "&": " and ",
        "/": " ",
        "_": " ",
        "-": " ",
        "+": " and ",
    }
)


@dataclass(frozen=True, slots=True)
class NormalisedText:
    """A report in canonical form, with a map back to the reporter's own words.

    Attributes:
        text: Normalised words joined by single spaces, with ``.`` for sentence ends.
        words: The normalised words, in order.
        written: For each normalised word, the word as the reporter wrote it.
    """

    text: str
    words: tuple[str, ...]
    written: tuple[str, ...]

    @property
    def starts(self) -> tuple[int, ...]:
        """For each normalised word, its offset in ``text``."""
        starts = list(accumulate(map(add, map(len, self.words), repeat(1)), initial=0))
        starts.pop()
        return tuple(starts)

    def quote(self, start: int, end: int) -> str:
        """The reporter's own words behind ``text[start:end]``.

        Args:
            start: Offset of the first character in ``text``.
            end: Offset just past the last character in ``text``.

        Returns:
            The written words covering that span, joined by spaces, with repeats removed
            (one written word may have been expanded into several).
        """
        # Words are joined by single spaces: the word at an offset is the number of spaces
        # before it.
        first = self.text.count(" ", 0, start)
        last = first + self.text.count(" ", start, max(end - 1, start))
        if first == last:
            return self.written[first] if first < len(self.written) else ""
        quoted: list[str] = []
        for word in self.written[first : last + 1]:
            if not quoted or quoted[-1] != word:
                quoted.append(word)
        return " ".join(quoted)


@dataclass(frozen=True, slots=True)
class _Shorthand:
    words: dict[str, str]
    digit_words: dict[str, str]
    digit_word_set: frozenset[str]
    digit_word_neighbours: frozenset[str]
    g_dropped: frozenset[str]
    fuzzy_targets: tuple[str, ...]
    protected: frozenset[str]
    censor_targets: tuple[str, ...]
    quoted_history: re.Pattern[str]


@lru_cache(maxsize=1)
def _shorthand() -> _Shorthand:
    data = load_data("shorthand.yaml")
    words = {str(k).lower(): str(v).lower() for k, v in data["words"].items()}
    g_dropped = frozenset(str(w) for w in data["g_dropped"]) | _vocabulary_ing_words()
    censor_targets = tuple(str(w) for w in data["censor_targets"])
    fuzzy_targets = tuple(str(w) for w in data["fuzzy_targets"])
    return _Shorthand(
        words=words,
        digit_words={str(k): str(v) for k, v in data["digit_words"].items()},
        digit_word_set=frozenset(str(k) for k in data["digit_words"]),
        digit_word_neighbours=frozenset(str(w) for w in data["digit_word_neighbours"]),
        g_dropped=g_dropped,
        fuzzy_targets=fuzzy_targets,
        protected=frozenset(str(w) for w in data["protected"]) | frozenset(words.values()),
        censor_targets=censor_targets,
        quoted_history=re.compile(str(data["quoted_history"]), re.IGNORECASE | re.MULTILINE),
    )


def _vocabulary_ing_words() -> frozenset[str]:
    """Every plain "-ing" word the vocabularies mention: "kickin" is restored to "kicking".

    Read from the data files themselves, so that a word added to any vocabulary is also
    recognised with its final g dropped, as texts often write it.
    """
    words: set[str] = set()
    folder = resources.files("triage").joinpath("data")
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml") and entry.name != "shorthand.yaml":
            words.update(_ING_WORD.findall(entry.read_text(encoding="utf-8")))
    return frozenset(words)


def _strip_quoted_history(text: str, shorthand: _Shorthand) -> str:
    """Cut earlier messages quoted under an email reply; they are not this report."""
    if "\n" not in text:
        return text
    match = shorthand.quoted_history.search(text)
    if match and match.start() > 0:
        text = text[: match.start()]
    if ">" not in text:
        return text
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))


@lru_cache(maxsize=65536)
def _uncensor(word: str) -> str:
    """Restore a censored or leetspeak word ("p*ki", "f@ggot", "n1gger") from its targets."""
    shorthand = _shorthand()
    letters = sum(ch.isalpha() for ch in word)
    if letters < 2:
        return word
    if any(ch in _CENSOR_CHARS for ch in word):
        pieces = re.split(r"([*#@$]+)", word)
        pattern = re.compile(
            "".join(
                f".{{{max(len(piece) - 1, 1)},{len(piece) + 1}}}"
                if piece[0] in _CENSOR_CHARS
                else re.escape(piece.translate(_LEET))
                for piece in pieces
                if piece
            )
        )
        for target in shorthand.censor_targets:
            if len(target) - 2 <= len(word) <= len(target) + 2 and pattern.fullmatch(target):
                return target
        leet = word.translate(_LEET)
        return leet if leet in shorthand.censor_targets else word
    leet = word.translate(_LEET)
    return leet if leet in shorthand.censor_targets else word


@lru_cache(maxsize=65536)
def _correct(word: str) -> str:
    """Correct a misspelt word that our vocabulary cares about, or leave it as it is."""
    shorthand = _shorthand()
    if len(word) < 5 or word in shorthand.protected or not word.isalpha():
        return word
    if word + "g" in shorthand.g_dropped:
        return word + "g"
    limit = 1 if len(word) < 8 else 2
    found = process.extractOne(
        word,
        shorthand.fuzzy_targets,
        scorer=DamerauLevenshtein.distance,
        score_cutoff=limit,
    )
    if found is None:
        return word
    target = str(found[0])
    return target if target[0] == word[0] else word


@lru_cache(maxsize=65536)
def _expand_word(word: str) -> tuple[str, ...]:
    """One written word in canonical form: usually one word, sometimes several ("rn")."""
    shorthand = _shorthand()
    if word[0] in ".!?;":
        return (_SENTENCE_END,)
    if word in shorthand.words:
        return tuple(shorthand.words[word].split())
    if not word.isalnum():
        return (_uncensor(word),)
    if not word.isalpha():
        uncensored = _uncensor(word)
        return tuple(shorthand.words.get(uncensored, uncensored).split())
    return (_correct(word),)


def normalise(text: str) -> NormalisedText:
    """Put a report into the canonical form every vocabulary is written against.

    Args:
        text: The report as received (SMS body, email text, chat message).

    Returns:
        The normalised text with a map back to the reporter's words.
    """
    shorthand = _shorthand()
    if text.isascii():
        text = _strip_quoted_history(text, shorthand)
        for char, folded in _ASCII_FOLDS:
            if char in text:
                text = text.replace(char, folded)
        raw = _tokens(text.lower())
    else:
        text = unicodedata.normalize("NFKC", text)
        text = _strip_quoted_history(text, shorthand).translate(_CHARACTER_FOLDS)
        raw = _TOKEN_RE.findall(text.lower())
    if not raw:
        return NormalisedText(text="", words=(), written=())
    plain = [t.replace("'", "") for t in raw] if "'" in text else raw
    if not shorthand.digit_word_set.isdisjoint(plain):
        return _normalised_slowly(raw, plain, shorthand)
    known = list(map(_EXPANDED.get, plain))
    if None in known:
        expanded = [
            done if done is not None else _expanded_text(word)
            for done, word in zip(known, plain, strict=True)
        ]
    else:
        expanded = cast(list[str], known)
    if _SPACED and not _SPACED.isdisjoint(plain):
        return _normalised_slowly(raw, plain, shorthand)
    if "" in expanded:  # a word expanded to nothing
        words = tuple(chain.from_iterable(part.split() for part in expanded))
        joined = " ".join(words)
    else:
        joined = " ".join(expanded)
        words = tuple(joined.split(" "))
    if len(words) == len(raw):
        written = tuple(raw)
    else:
        written = tuple(raw[index] for index, part in enumerate(expanded) for _ in part.split())
    return NormalisedText(text=joined, words=words, written=written)


def _normalised_slowly(raw: list[str], plain: list[str], shorthand: _Shorthand) -> NormalisedText:
    """The same, word by word: "2" or "4" read beside their neighbours, or a word whose
    canonical form holds a space."""
    expanded = _with_digit_words(plain, shorthand)
    words = tuple(word for parts in expanded for word in parts)
    written = tuple(raw[index] for index, parts in enumerate(expanded) for _ in parts)
    return NormalisedText(text=" ".join(words), words=words, written=written)


_ASCII_FOLDS = tuple(
    (char, folded)
    for char, folded in {chr(k): v for k, v in _CHARACTER_FOLDS.items()}.items()
    if char.isascii()
)
"""The folds that apply to ASCII text, done with ``str.replace`` (none folds into another)."""


def _tokens(text: str) -> list[str]:
    """``_TOKEN_RE.findall(text)`` for ASCII text, quicker: most words need no expression."""
    tokens: list[str] = []
    for chunk in text.split():
        if chunk.isalnum():
            tokens.append(chunk)
        else:
            tokens += _TOKEN_RE.findall(chunk)
    return tokens


_SPACED: set[str] = set()
"""Words whose canonical form holds a space (a vocabulary target such as "ice cream")."""


_EXPANDED: dict[str, str] = {}
"""Memo of :func:`_expanded_text` (a plain dict: read with ``map`` at C speed)."""
_EXPANDED_SIZE = 65536


def _expanded_text(word: str) -> str:
    """:func:`_expand_word` as one string, its words joined by spaces."""
    parts = _expand_word(word)
    if any(" " in part for part in parts):
        _SPACED.add(word)
    text = " ".join(parts)
    if len(_EXPANDED) >= _EXPANDED_SIZE:
        _EXPANDED.clear()
    _EXPANDED[word] = text
    return text


def _with_digit_words(plain: list[str], shorthand: _Shorthand) -> list[tuple[str, ...]]:
    """Expand words, reading "2" and "4" as words beside the verbs they go with."""
    digit_words, neighbours = shorthand.digit_words, shorthand.digit_word_neighbours
    last = len(plain) - 1
    return [
        (digit_words[token],)
        if token in digit_words
        and (
            (index and plain[index - 1] in neighbours)
            or (index < last and plain[index + 1] in neighbours)
        )
        else _expand_word(token)
        for index, token in enumerate(plain)
    ]
