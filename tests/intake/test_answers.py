"""Replies typed on a phone at 3 am, or in an email, read the way the reporter meant them."""

from __future__ import annotations

import pytest

from intake.answers import (
    Answer,
    parse_choice,
    parse_choices,
    parse_numbered_answers,
    parse_yes_no,
)
from intake.messages import Option

YES, NO, NOT_SURE, UNCLEAR = Answer.YES, Answer.NO, Answer.NOT_SURE, Answer.UNCLEAR

YES_NO = (Option("yes", "Yes"), Option("no", "No"), Option("not_sure", "Not sure"))
NO_YES = (Option("no", "No"), Option("yes", "Yes"))
CALL_BACK = (Option("yes", "Yes, call me back"), Option("no", "No, text only"))

CATEGORIES = (
    Option("noise", "Noise or loud music"),
    Option("threats", "Threats or harassment"),
    Option("vandalism", "Damage or graffiti"),
    Option("drugs", "Drugs"),
    Option("something_else", "Something else"),
)
NOISE_KINDS = (Option("noise", "Noise"), Option("party", "Noise from a party"))
TWELVE = tuple(Option(f"v{n}", f"Label {n}") for n in range(1, 13))
WITH_NONE = (*CATEGORIES, Option("none", "None of these"))
TWO = (Option("noise", "Noise"), Option("threats", "Threats"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("y", YES), ("Y", YES), ("yes", YES), ("YES!!!", YES), ("Yes.", YES), ("yesss", YES),
        ("yeah", YES), ("yeahhh", YES), ("yep", YES), ("yup", YES), ("yh", YES), ("ya", YES),
        ("ye", YES), ("aye", YES), ("ok", YES), ("OK 👍", YES), ("okay", YES), ("sure", YES),
        ("correct", YES), ("that's right", YES), ("That’s right", YES), ("please", YES),
        ("yes please", YES), ("yes he was", YES), ("yeah it's him again", YES),
        ("👍", YES), ("sure no problem", YES), ("  yes  ", YES),
        ("no", NO), ("n", NO), ("N", NO), ("nah", NO), ("nope", NO), ("noooo", NO),
        ("no thanks", NO), ("No thank you.", NO), ("not really", NO), ("no not today", NO),
        ("nah mate", NO), ("👎", NO), ("no please don't", NO), ("I don't think so", NO),
        ("dunno", NOT_SURE), ("idk", NOT_SURE), ("IDK lol", NOT_SURE), ("not sure", NOT_SURE),
        ("Not sure tbh", NOT_SURE), ("don't know", NOT_SURE), ("don’t know 🤷", NOT_SURE),
        ("I don't know", NOT_SURE), ("maybe", NOT_SURE), ("no idea", NOT_SURE),
        ("not_sure", NOT_SURE), ("i'm not sure", NOT_SURE), ("cant remember", NOT_SURE),
    ],
)
def test_yes_no_words(text: str, expected: Answer) -> None:
    assert parse_yes_no(text) is expected


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("1", None, YES),
        ("2", None, NO),
        ("3", None, NOT_SURE),
        ("1.", YES_NO, YES),
        ("2)", YES_NO, NO),
        ("3", YES_NO, NOT_SURE),
        ("2️⃣", YES_NO, NO),
        ("option 1", YES_NO, YES),
        ("1 yes", YES_NO, YES),
        ("2. no thanks", YES_NO, NO),
        ("1 please", YES_NO, YES),
        ("1", NO_YES, NO),
        ("2", NO_YES, YES),
        ("3", NO_YES, UNCLEAR),
        ("4", YES_NO, UNCLEAR),
        ("0", YES_NO, UNCLEAR),
        ("Yes, call me back", CALL_BACK, YES),
        ("no, text only", CALL_BACK, NO),
    ],
)
def test_yes_no_numbers_follow_the_options(
    text: str, options: tuple[Option, ...] | None, expected: Answer
) -> None:
    assert parse_yes_no(text, options) is expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   ", "blank"),
        ("🙄", "emoji that is not an answer"),
        ("he was shouting again", "a statement, not an answer"),
        ("2 people were hurt", "a count, not option 2"),
        ("1 no", "the number and the word disagree"),
        ("yes no", "contradicts itself"),
        ("yeah no", "British no, but not safe to assume"),
        ("no yes", "contradicts itself"),
        ("not today", "not a known answer"),
    ],
)
def test_yes_no_unclear(text: str, why: str) -> None:
    assert parse_yes_no(text, YES_NO) is UNCLEAR, why


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2", "threats"),
        ("2.", "threats"),
        (" 2 ", "threats"),
        ("2)", "threats"),
        ("(2)", "threats"),
        ("#2", "threats"),
        ("option 2", "threats"),
        ("Option 2", "threats"),
        ("no. 2", "threats"),
        ("No 2", "threats"),
        ("number 4", "drugs"),
        ("2nd", "threats"),
        ("2️⃣", "threats"),
        ("2 please", "threats"),
        ("2 harassment", "threats"),
        ("2. Threats or harassment", "threats"),
        ("noise", "noise"),
        ("Noise", "noise"),
        ("NOISE!!", "noise"),
        ("nois", "noise"),
        ("noisy", "noise"),
        ("loud music", "noise"),
        ("its the noise mainly", "noise"),
        ("harrasment", "threats"),
        ("threatened me", "threats"),
        ("graffitti", "vandalism"),
        ("vandalism", "vandalism"),
        ("drug dealing", "drugs"),
        ("somthing else", "something_else"),
        ("something else", "something_else"),
        ("Something else.", "something_else"),
        ("something_else", "something_else"),
        ("Threats or harassment", "threats"),
    ],
)
def test_choice(text: str, expected: str) -> None:
    assert parse_choice(text, CATEGORIES) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("?", "no words"),
        ("6", "no option 6"),
        ("0", "no option 0"),
        ("2 noise", "number and words name different options"),
        ("2 people", "a count, not option 2"),
        ("11pm", "a time, not option 11"),
        ("noise and threats", "two options"),
        ("no", "not an option"),
        ("banana", "nothing like any option"),
        ("nothing", "not 'something'"),
    ],
)
def test_choice_unclear(text: str, why: str) -> None:
    assert parse_choice(text, CATEGORIES) is None, why


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("nois", NOISE_KINDS, "noise"),
        ("noise", NOISE_KINDS, "noise"),
        ("party", NOISE_KINDS, "party"),
        ("noise from a party", NOISE_KINDS, "party"),
        ("yeah", YES_NO, "yes"),
        ("nah not really", YES_NO, "no"),
        ("dunno", YES_NO, "not_sure"),
        ("2", YES_NO, "no"),
        ("dunno", NO_YES, None),
        ("yeah no", YES_NO, None),
        ("12", TWELVE, "v12"),
        ("13", TWELVE, None),
        ("anything", (), None),
    ],
)
def test_choice_other_option_sets(
    text: str, options: tuple[Option, ...], expected: str | None
) -> None:
    assert parse_choice(text, options) == expected


def test_button_value_sent_verbatim_wins() -> None:
    options = (Option("2", "Two"), Option("1", "One"))
    assert parse_choice("2", options) == "2"


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("1 3 5", CATEGORIES, {"noise", "vandalism", "something_else"}),
        ("1,3,5", CATEGORIES, {"noise", "vandalism", "something_else"}),
        ("1, 3 and 5", CATEGORIES, {"noise", "vandalism", "something_else"}),
        ("1 & 3", CATEGORIES, {"noise", "vandalism"}),
        ("1/2", CATEGORIES, {"noise", "threats"}),
        ("135", CATEGORIES, {"noise", "vandalism", "something_else"}),
        ("1st and 3rd", CATEGORIES, {"noise", "vandalism"}),
        ("options 1 and 2 please", CATEGORIES, {"noise", "threats"}),
        ("2", CATEGORIES, {"threats"}),
        ("2 2", CATEGORIES, {"threats"}),
        ("no. 2 and 3", CATEGORIES, {"threats", "vandalism"}),
        ("1 11 12", TWELVE, {"v1", "v11", "v12"}),
        ("noise", CATEGORIES, {"noise"}),
        ("noise and threats", CATEGORIES, {"noise", "threats"}),
        ("noise, drugs & graffiti", CATEGORIES, {"noise", "drugs", "vandalism"}),
        ("Noise or loud music, Drugs", CATEGORIES, {"noise", "drugs"}),
        ("1 3 and drugs", CATEGORIES, {"noise", "vandalism", "drugs"}),
        ("threats and harassment", CATEGORIES, {"threats"}),
        ("none", CATEGORIES, set()),
        ("None.", CATEGORIES, set()),
        ("0", CATEGORIES, set()),
        ("none of these", CATEGORIES, set()),
        ("None of the above", WITH_NONE, set()),
        ("6", WITH_NONE, {"none"}),
        ("all of them", CATEGORIES, {o.value for o in CATEGORIES}),
        ("all", WITH_NONE, {o.value for o in CATEGORIES}),
        ("both", TWO, {"noise", "threats"}),
    ],
)
def test_choices(text: str, options: tuple[Option, ...], expected: set[str]) -> None:
    assert parse_choices(text, options) == frozenset(expected)


@pytest.mark.parametrize(
    ("text", "options", "why"),
    [
        ("", CATEGORIES, "empty"),
        ("1 3 9", CATEGORIES, "no option 9"),
        ("0 1", CATEGORIES, "none and an option"),
        ("16", CATEGORIES, "run together, but 6 is not an option"),
        ("135", TWELVE, "run together with options past 9 reads as 135"),
        ("1 3 banana", CATEGORIES, "one part unclear"),
        ("noise and bananas", CATEGORIES, "one part unclear"),
        ("both", CATEGORIES, "both of five"),
        ("he keeps shouting", CATEGORIES, "a statement"),
        ("1 2", (), "no options"),
    ],
)
def test_choices_unclear(text: str, options: tuple[Option, ...], why: str) -> None:
    assert parse_choices(text, options) is None, why


EMAIL_ANSWERS = """\
Hi,
Thanks,

1. yes
2) last night about
11pm, he came back at 11:30
3 - the stairwell
Q4: no
5 yes it was 2.5 metres away
3 men came out after

Kind regards
Jane

On Tue, 3 Nov 2026 at 03:12, ASB Reports <
reports@example.org> wrote:
> 1. Is it happening right now?
>    Yes / No / Not sure
"""

INLINE_ANSWERS = """\
> Reply to this email with your answers next to the numbers, for example: 1. yes
>
> 1. Is it happening right now?
>    Yes / No / Not sure
yes it is

> 2. Where did it happen?
the car park
behind block B
> 3. Anything else?
--\x20
Jane Smith
1. not an answer
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            EMAIL_ANSWERS,
            {
                1: "yes",
                2: "last night about\n11pm, he came back at 11:30",
                3: "the stairwell",
                4: "no",
                5: "yes it was 2.5 metres away\n3 men came out after",
            },
        ),
        (INLINE_ANSWERS, {1: "yes it is", 2: "the car park\nbehind block B"}),
        ("1. yes\n2. no", {1: "yes", 2: "no"}),
        ("1) yes\n2) no", {1: "yes", 2: "no"}),
        ("1 - yes\n2 – no", {1: "yes", 2: "no"}),
        ("1: yes\n2: no", {1: "yes", 2: "no"}),
        ("Q1 yes\nq2. no\nQuestion 3 - behind the shops", {1: "yes", 2: "no", 3: "behind the shops"}),
        ("(1) yes\n(2) no", {1: "yes", 2: "no"}),
        ("1 yes\n2 no\n3 stairwell", {1: "yes", 2: "no", 3: "stairwell"}),
        ("1 yes\n3 no", {1: "yes\n3 no"}),
        ("2.\nlast night\n\n3.\n", {2: "last night"}),
        ("1. yes\n1. actually no", {1: "yes\nactually no"}),
        ("1. yes\n2. 10-11pm\n3. 2.5m", {1: "yes", 2: "10-11pm", 3: "2.5m"}),
        ("1. no\nthanks", {1: "no"}),
        ("1. no\nSent from my iPhone", {1: "no"}),
        ("1. yes\n-----Original Message-----\n2. Where?", {1: "yes"}),
        ("1. yes\n________________________________\nFrom: ASB", {1: "yes"}),
        ("1. yes\n> 2. no\n> 3. maybe", {1: "yes"}),
        ("no numbers here, just a story", {}),
        ("", {}),
    ],
)
def test_numbered_answers(text: str, expected: dict[int, str]) -> None:
    assert parse_numbered_answers(text) == expected


def test_choices_label_containing_and_is_one_choice() -> None:
    options = (Option("drink_drugs", "Drink and drugs"), Option("drugs", "Drugs"))
    assert parse_choices("drink and drugs", options) == frozenset({"drink_drugs"})
