"""Reading what people send back: yes or no, one choice, several choices, numbered answers.

Answers come from phones at 3 am ("yh", "nah not really", "2.", "somthing else 🙄") and from
email replies that answer several questions at once. The parsers are lenient about spelling,
case, punctuation and emoji, and strict about meaning: when a reply could mean two things
they say so (``Answer.UNCLEAR`` or ``None``) and the conversation asks again instead of
guessing. "2 people were hurt" is not option 2, and "yeah no" is not yes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from enum import StrEnum

from rapidfuzz.distance import DamerauLevenshtein

from intake.messages import Option


class Answer(StrEnum):
    """A reading of a yes/no question's reply; the values match the options' values."""

    YES = "yes"
    NO = "no"
    NOT_SURE = "not_sure"
    UNCLEAR = "unclear"


_YES, _NO, _NOT_SURE = Answer.YES, Answer.NO, Answer.NOT_SURE

_YES_NO_PHRASES: dict[str, Answer] = {
    "yes": _YES, "y": _YES, "yeah": _YES, "yea": _YES, "yeh": _YES, "yep": _YES,
    "yup": _YES, "yh": _YES, "ya": _YES, "ye": _YES, "aye": _YES, "ok": _YES, "okay": _YES,
    "sure": _YES, "correct": _YES, "thats right": _YES, "thats correct": _YES,
    "please": _YES, "yes please": _YES, "definitely": _YES, "of course": _YES,
    "absolutely": _YES, "i think so": _YES, "no problem": _YES,
    "no": _NO, "n": _NO, "nah": _NO, "nope": _NO, "no thanks": _NO, "no thank you": _NO,
    "not really": _NO, "not at all": _NO, "never": _NO, "no way": _NO,
    "i dont think so": _NO, "dont think so": _NO,
    "dunno": _NOT_SURE, "i dunno": _NOT_SURE, "idk": _NOT_SURE, "not sure": _NOT_SURE,
    "im not sure": _NOT_SURE, "unsure": _NOT_SURE, "dont know": _NOT_SURE,
    "i dont know": _NOT_SURE, "maybe": _NOT_SURE, "possibly": _NOT_SURE,
    "perhaps": _NOT_SURE, "no idea": _NOT_SURE, "not certain": _NOT_SURE,
    "cant remember": _NOT_SURE, "dont remember": _NOT_SURE, "cant say": _NOT_SURE,
}
"""Phrases a reply may start with; the longest phrase at the start wins."""

_DECISIVE_WORDS = frozenset({"yes", "y", "yeah", "yep", "yup", "no", "n", "nah", "nope"})
"""Words that contradict a different leading answer ("yes no", "yeah no" -> unclear)."""

_DEFAULT_YES_NO_ORDER = (_YES, _NO, _NOT_SURE)
"""How numbers read when no options are given: 1 yes, 2 no, 3 not sure."""

_FOLDS = str.maketrans({
    "‘": "'", "’": "'", "ʼ": "'", "`": "'", "´": "'",
    "\ufe0f": None, "\u20e3": None,  # the keycap emoji 2️⃣ is the digit 2
    "👍": " yes ", "👌": " yes ", "✅": " yes ", "✔": " yes ", "✓": " yes ",
    "👎": " no ", "❌": " no ", "✖": " no ",
    "🤷": " not sure ",
})
"""Characters folded before reading: apostrophes, keycaps and answer-like emoji."""

_WORD_RE = re.compile(r"[^\W_]+")
_REPEATS_RE = re.compile(r"(.)\1+")

_FILLER = frozenset({"please", "pls", "plz", "thanks", "thank", "you", "thx", "ta", "x", "xx"})
"""Politeness after an answer that changes nothing ("2 please", "yes thanks x")."""

_STOP_WORDS = _FILLER | frozenset({
    "a", "an", "the", "it", "its", "is", "was", "were", "of", "or", "and", "to", "my", "i",
    "im", "me", "on", "in", "at", "for", "with", "from", "by", "this", "that", "these",
    "those", "just", "mainly", "mostly", "one", "option", "choice", "answer",
})
"""Words that say nothing about which option is meant."""

_NUMBER_RE = re.compile(
    r"^\W*(?:(?P<prefix>option|opt|choice|number|num|nr|no)\W*)?"
    r"(?P<number>\d+)(?:st|nd|rd|th)?(?![^\W_])(?P<rest>.*)$",
    re.DOTALL,
)
"""A reply that starts with a number: "2", "2.", "(2)", "option 2", "no. 2", "#2", "2nd"."""

_ORDINAL_RE = re.compile(r"^(\d+)(?:st|nd|rd|th)$")

_NONE_PHRASES = frozenset({
    "none", "0", "none of these", "none of them", "none of those", "none of the above",
    "nothing", "nothing like that", "neither", "neither of them",
})
"""Multi-select replies meaning "none of the options"."""

_ALL_PHRASES: dict[str, int | None] = {
    "all": None, "all of them": None, "all of these": None, "all of those": None,
    "all of the above": None, "all the above": None, "everything": None, "both": 2,
    "both of them": 2,
}
"""Multi-select replies meaning "every option"; the number is how many options it needs."""

_NOT_OPTIONS = frozenset({"none", "not_sure"})
"""Option values that "all of them" does not include."""

_LIST_SEPARATORS_RE = re.compile(r"\s*(?:[,;/&+\n]|\band\b|\balso\b)\s*", re.IGNORECASE)
_NUMBER_LIST_FILLER = _FILLER | frozenset({"and", "also", "option", "options", "number",
                                           "numbers", "nos", "nr"})

_TYPO_ALLOWANCE = ((3, 0), (5, 1))
"""(longest word, edits allowed): words up to 3 letters must be exact, up to 5 allow one
edit, longer words two. Damerau-Levenshtein, so a swapped pair of letters is one edit."""
_LONGER_WORD_TYPOS = 2
_SHARED_STEM = 5
"""Words sharing this many leading letters match ("threatened" and "threats")."""
_SHORTEST_PREFIX = 4
"""A typed word this long that starts an option's word matches it ("harass", "nois")."""

_QUESTION_LINE_RE = re.compile(
    r"^\s*(?:q|question)\s*(?P<number>\d{1,2})(?!\d)\s*[.):\-–—]?\s*(?P<text>.*)$",
    re.IGNORECASE,
)
_NUMBERED_LINE_RE = re.compile(
    r"^\s*\(?(?P<number>\d{1,2})\s*[.):\-–—](?!\d)\s*(?P<text>.*)$"
)
_BARE_NUMBER_LINE_RE = re.compile(r"^\s*(?P<number>\d{1,2})(?:\s+(?P<text>\S.*))?\s*$")
"""'1 yes': only read as an answer when 1 is the next number expected."""

_ATTRIBUTION_RE = re.compile(r"^[ \t]*On\b[^\n]*(?:\n[^\n]*)?\bwrote:[ \t]*$", re.MULTILINE)
""""On Tue, 3 Nov 2026 at 03:12, ASB Reports <...> wrote:", possibly wrapped onto two lines."""
_ORIGINAL_MESSAGE_RE = re.compile(
    r"^\s*(?:-{2,}\s*Original Message\s*-{2,}|_{10,})\s*$", re.IGNORECASE
)
_SIGNATURE_DELIMITERS = frozenset({"-- ", "--"})
_SIGN_OFFS = frozenset({
    "thanks", "thank you", "many thanks", "thanks again", "regards", "kind regards",
    "best regards", "warm regards", "best wishes", "best", "cheers", "ta",
    "yours sincerely", "yours faithfully",
})
_SIGN_OFF_STARTS = ("sent from my ", "get outlook for ")


def parse_yes_no(text: str, options: Sequence[Option] | None = None) -> Answer:
    """Read a reply to a yes/no (or yes/no/not sure) question.

    The reply's first words decide: "yes he was" is yes, "no not today" is no. A number
    is read through ``options`` when given, or as 1 yes, 2 no, 3 not sure; it counts only
    on its own or followed by the same answer ("1", "2.", "1 yes"), so "2 people were hurt"
    stays unclear. A reply that contradicts itself at once ("yes no", "yeah no") is unclear.

    Args:
        text: The reply as received.
        options: The options as offered, with values ``"yes"``, ``"no"``, ``"not_sure"``.

    Returns:
        YES, NO or NOT_SURE, or UNCLEAR when the reply should be asked again.
    """
    folded = _fold(text)
    if options:
        by_label = {" ".join(_words(option.label)): option.value for option in options}
        labelled = by_label.get(" ".join(_words(text)))
        if labelled in _DEFAULT_YES_NO_ORDER:
            return Answer(labelled)
    number = _NUMBER_RE.match(folded)
    if number and number["prefix"] != "no":
        answer = _yes_no_for_number(int(number["number"]), options)
        rest = [word for word in _words(number["rest"]) if _squeeze(word) not in _FILLER]
        if answer is Answer.UNCLEAR or not rest:
            return answer
        return answer if _leading_answer(rest) is answer else Answer.UNCLEAR
    return _leading_answer(_words(text))


def parse_choice(text: str, options: Sequence[Option]) -> str | None:
    """Read a reply to a question with one answer among ``options``.

    Accepted, in order: a button value sent verbatim; a label or value typed out; an option
    number ("2", "2.", "option 2", "no. 2", "2️⃣"), alone or with words naming the same
    option; words naming one option better than any other, allowing typos and word endings
    ("nois" -> Noise, "somthing else" -> Something else, "harassed" -> Harassment). When
    the options are yes / no / not sure, the yes/no reading applies ("yeah" -> "yes").

    Args:
        text: The reply as received.
        options: The options as offered, in order (option 1 first).

    Returns:
        The chosen option's value, or None when the reply is unclear or names two options.
    """
    if not options:
        return None
    values = [option.value for option in options]
    if text.strip() in values:
        return text.strip()
    if all(value in _DEFAULT_YES_NO_ORDER for value in values):
        answer = parse_yes_no(text, options)
        return answer.value if answer.value in values else None
    words = _words(text)
    phrase = " ".join(words)
    exact = {option.value for option in options if phrase in _names(option)}
    if len(exact) == 1:
        return exact.pop()
    number = _NUMBER_RE.match(_fold(text))
    if number:
        return _choice_for_number(int(number["number"]), _words(number["rest"]), options)
    return _best_match(words, options)


def parse_choices(text: str, options: Sequence[Option]) -> frozenset[str] | None:
    """Read a reply to a question where several options may apply.

    Accepted: numbers separated by spaces, commas or "and" ("1 3 5", "1,3,5", "1, 3 and 5");
    digits run together ("135") only when every option number is a single digit; labels
    separated by commas or "and" ("noise and threats"), or one label that contains "and";
    "all of them" (every option except "none" and "not sure"; "both" when there are two);
    "none", "0" or "none of these".

    Args:
        text: The reply as received.
        options: The options as offered, in order (option 1 first).

    Returns:
        The chosen values; an empty set for "none"; None when any part is unclear, so that
        nothing the reporter meant to choose is silently dropped.
    """
    if not options:
        return None
    phrase = " ".join(_words(text))
    if phrase in _NONE_PHRASES:
        return frozenset()
    if phrase in _ALL_PHRASES:
        every = [option.value for option in options if option.value not in _NOT_OPTIONS]
        needed = _ALL_PHRASES[phrase]
        return frozenset(every) if needed in (None, len(every)) else None
    exact = {option.value for option in options if phrase in _names(option)}
    if len(exact) == 1:
        return frozenset(exact)
    numbers = _number_list(text, options)
    if numbers is not None:
        return numbers
    chosen: set[str] = set()
    for part in _LIST_SEPARATORS_RE.split(text):
        if not _words(part):
            continue
        picked = _number_list(part, options)
        if picked is None:
            choice = parse_choice(part, options)
            picked = None if choice is None else frozenset({choice})
        if picked is None:
            return None
        chosen |= picked
    return frozenset(chosen) or None


def parse_numbered_answers(text: str) -> dict[int, str]:
    """Split an email reply that answers several numbered questions at once.

    Answer lines look like "1. yes", "2) last night about 11pm", "3 - the stairwell",
    "Q4: no" or "4: no"; "5 yes" counts only when 5 is the next number expected. An answer
    continues over the following lines until the next numbered line. Quoted lines (">") are
    not answers, but a quoted numbered question followed by unquoted text (answers typed
    inline under our questions) answers that number. Reading stops at a signature
    ("-- "), a bare sign-off ("Kind regards", "Sent from my iPhone") or an Outlook
    "Original Message" block; "On ... wrote:" lines are dropped.

    Args:
        text: The plain-text body of the reply.

    Returns:
        Answer text by question number, for the numbers answered with some text.
    """
    answers: dict[int, list[str]] = {}
    current: int | None = None
    for line in _ATTRIBUTION_RE.sub("", text).splitlines():
        stripped = line.lstrip()
        if stripped.startswith(">"):
            quoted = _numbered_line(stripped.lstrip("> \t"), None)
            current = quoted[0] if quoted else current
            continue
        if _ends_reply(line, answering=current is not None):
            break
        numbered = _numbered_line(line, (current or 0) + 1)
        if numbered:
            current, first = numbered
            answers.setdefault(current, []).append(first)
        elif current is not None:
            answers.setdefault(current, []).append(line)
    joined = {number: "\n".join(lines).strip() for number, lines in answers.items()}
    return {number: answer for number, answer in sorted(joined.items()) if answer}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().translate(_FOLDS)


def _words(text: str) -> list[str]:
    """Lower-case words and numbers, apostrophes dropped ("Don't!!" -> ["dont"])."""
    return _WORD_RE.findall(_fold(text).replace("'", ""))


def _squeeze(word: str) -> str:
    """Collapse repeated letters, so "yesss", "noooo" and "yeahhh" read as their words."""
    return _REPEATS_RE.sub(r"\1", word)


def _canonical_words(phrases: Iterable[str]) -> dict[str, str]:
    words = {word for phrase in phrases for word in phrase.split()}
    squeezed: dict[str, str] = {}
    for word in sorted(words):
        squeezed.setdefault(_squeeze(word), word)
    return {**squeezed, **{word: word for word in words}}


_YES_NO_WORDS = _canonical_words(_YES_NO_PHRASES)
_YES_NO_BY_WORDS = {tuple(phrase.split()): answer for phrase, answer in _YES_NO_PHRASES.items()}
_LONGEST_PHRASE = max(len(words) for words in _YES_NO_BY_WORDS)


def _canonical(word: str) -> str:
    """A yes/no vocabulary word as written in the table, or the word unchanged."""
    return _YES_NO_WORDS.get(word) or _YES_NO_WORDS.get(_squeeze(word), word)


def _phrase_at_start(words: Sequence[str]) -> tuple[Answer, int]:
    """The answer of the longest known phrase at the start of ``words``, and its length."""
    canonical = tuple(_canonical(word) for word in words)
    for length in range(min(_LONGEST_PHRASE, len(canonical)), 0, -1):
        answer = _YES_NO_BY_WORDS.get(canonical[:length])
        if answer is not None:
            return answer, length
    return Answer.UNCLEAR, 0


def _leading_answer(words: Sequence[str]) -> Answer:
    answer, length = _phrase_at_start(words)
    if answer is Answer.UNCLEAR:
        return answer
    following, _ = _phrase_at_start(words[length:])
    next_word = _canonical(words[length]) if length < len(words) else ""
    contradicted = following not in (Answer.UNCLEAR, answer) and next_word in _DECISIVE_WORDS
    return Answer.UNCLEAR if contradicted else answer


def _yes_no_for_number(number: int, options: Sequence[Option] | None) -> Answer:
    order = [option.value for option in options] if options else list(_DEFAULT_YES_NO_ORDER)
    if not 1 <= number <= len(order):
        return Answer.UNCLEAR
    value = order[number - 1]
    return Answer(value) if value in _DEFAULT_YES_NO_ORDER else Answer.UNCLEAR


def _names(option: Option) -> frozenset[str]:
    """The option's label and value as typed phrases ("something_else" -> "something else")."""
    return frozenset({" ".join(_words(option.label)), " ".join(_words(option.value))})


def _name_words(option: Option) -> frozenset[str]:
    words = {word for name in _names(option) for word in name.split()}
    return frozenset(words - _STOP_WORDS) or frozenset(words)


def _choice_for_number(number: int, rest: Sequence[str], options: Sequence[Option]) -> str | None:
    """Option ``number``, if any words after it name that same option ("2 noise", "2 pls")."""
    if not 1 <= number <= len(options):
        return None
    chosen = options[number - 1].value
    if all(_squeeze(word) in _FILLER for word in rest):
        return chosen
    return chosen if _best_match(rest, options) == chosen else None


def _similar(typed: str, name: str) -> bool:
    if typed == name:
        return True
    if len(typed) >= _SHORTEST_PREFIX and name.startswith(typed):
        return True
    stem = typed[:_SHARED_STEM]
    if len(stem) == _SHARED_STEM and name.startswith(stem):
        return True
    allowed = next((edits for longest, edits in _TYPO_ALLOWANCE if len(name) <= longest),
                   _LONGER_WORD_TYPOS)
    return allowed > 0 and DamerauLevenshtein.distance(typed, name, score_cutoff=allowed) <= allowed


def _best_match(words: Sequence[str], options: Sequence[Option]) -> str | None:
    """The one option naming the most of the reply's words, or None.

    Two options naming the same words are told apart by how much of each option the reply
    covers ("nois": Noise over Noise from a party); two options naming different words
    ("noise and threats") make the reply ambiguous.
    """
    typed = {word for word in words if word not in _STOP_WORDS and not word.isdigit()}
    matches: dict[str, tuple[frozenset[str], float]] = {}
    for option in options:
        names = _name_words(option)
        named = frozenset(word for word in typed if any(_similar(word, n) for n in names))
        covered = sum(any(_similar(word, name) for word in typed) for name in names)
        matches[option.value] = (named, covered / max(len(names), 1))
    most = max((len(named) for named, _ in matches.values()), default=0)
    if not most:
        return None
    leaders = {value: match for value, match in matches.items() if len(match[0]) == most}
    if len({named for named, _ in leaders.values()}) > 1:
        return None
    best = max(coverage for _, coverage in leaders.values())
    winners = [value for value, (_, coverage) in leaders.items() if coverage == best]
    return winners[0] if len(winners) == 1 else None


def _number_list(text: str, options: Sequence[Option]) -> frozenset[str] | None:
    """Options chosen by number ("1 3 5", "1, 3 and 5", "135"), or None if not only numbers."""
    tokens: list[str] = []
    for word in _words(text):
        ordinal = _ORDINAL_RE.match(word)
        if ordinal:
            tokens.append(ordinal[1])
        elif _squeeze(word) not in _NUMBER_LIST_FILLER:
            tokens.append(word)
    if not tokens or not all(token.isdigit() for token in tokens):
        return None
    single_digits = len(options) <= 9
    numbers = [int(d) for t in tokens for d in (t if single_digits else [t])]
    if not all(1 <= number <= len(options) for number in numbers):
        return None
    return frozenset(options[number - 1].value for number in numbers)


def _numbered_line(line: str, expected: int | None) -> tuple[int, str] | None:
    """The question number and answer text a line starts, if it starts one.

    A bare "5 yes" starts answer 5 only when ``expected`` is 5, so that a continuation line
    such as "3 men came out" is not read as answer 3.
    """
    match = _QUESTION_LINE_RE.match(line) or _NUMBERED_LINE_RE.match(line)
    if match is None:
        bare = _BARE_NUMBER_LINE_RE.match(line)
        match = bare if bare and int(bare["number"]) == expected else None
    if match is None or int(match["number"]) == 0:
        return None
    return int(match["number"]), (match["text"] or "").strip()


def _ends_reply(line: str, *, answering: bool) -> bool:
    """True at a signature, an Outlook quoted-message block, or a sign-off after answers.

    "Thanks," before the first answer is a greeting, not the end of the reply.
    """
    if line in _SIGNATURE_DELIMITERS or _ORIGINAL_MESSAGE_RE.match(line):
        return True
    words = " ".join(_words(line))
    return answering and (words in _SIGN_OFFS or (words + " ").startswith(_SIGN_OFF_STARTS))
