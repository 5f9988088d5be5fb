"""Replies rendered for SMS, chat buttons and email say the same thing in each channel's form."""

from __future__ import annotations

import pytest

from intake.answers import parse_choice, parse_choices, parse_numbered_answers
from intake.messages import Option, Reply
from intake.render import (
    Button,
    EmailBody,
    RenderedMessage,
    render_buttons,
    render_email,
    render_sms,
)
from intake.sms import segments

YES_NO = (Option("yes", "Yes"), Option("no", "No"), Option("not_sure", "Not sure"))
CATEGORIES = (
    Option("noise", "Noise or loud music"),
    Option("threats", "Threats or harassment"),
    Option("vandalism", "Damage or graffiti"),
)
LONG = (Option("stairwell", "In the stairwell"), Option("car_park", "In the car park"),
        Option("flat", "Inside my flat"))

DANGER = Reply("If you are in danger now, call 999.", urgent=True)
THANKS = Reply("Thanks – we’ve got your report…")
NOW = Reply("Is it happening right now?", YES_NO, question_id="now")
WHAT = Reply("What is it about?", CATEGORIES, multiple=True, question_id="what")
WHERE = Reply("Where did it happen?", question_id="where")
PLACE = Reply("Where was it?", LONG, question_id="place")


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ([], []),
        ([WHERE], ["Where did it happen?"]),
        ([THANKS], ["Thanks - we've got your report..."]),
        ([NOW], ["Is it happening right now?\nReply 1 Yes, 2 No, 3 Not sure"]),
        (
            [PLACE],
            ["Where was it?\n1 In the stairwell\n2 In the car park\n3 Inside my flat"],
        ),
        (
            [WHAT],
            [
                "What is it about?\n1 Noise or loud music\n2 Threats or harassment\n"
                "3 Damage or graffiti\nReply with all numbers that apply, e.g. 1 3"
            ],
        ),
        (
            [Reply("Which?", YES_NO[:2], multiple=True)],
            ["Which?\n1 Yes\n2 No\nReply with all numbers that apply, e.g. 1 2"],
        ),
        (
            [THANKS, NOW],
            ["Thanks - we've got your report...\n\nIs it happening right now?\n"
             "Reply 1 Yes, 2 No, 3 Not sure"],
        ),
        (
            [THANKS, DANGER, NOW],
            [
                "If you are in danger now, call 999.",
                "Thanks - we've got your report...\n\nIs it happening right now?\n"
                "Reply 1 Yes, 2 No, 3 Not sure",
            ],
        ),
        ([DANGER], ["If you are in danger now, call 999."]),
        (
            [DANGER, Reply("Or text 999 if you registered. “Stay safe”", urgent=True)],
            ['If you are in danger now, call 999.\n\nOr text 999 if you registered. "Stay safe"'],
        ),
        ([Reply("", YES_NO[:2])], ["Reply 1 Yes, 2 No"]),
    ],
)
def test_render_sms(replies: list[Reply], expected: list[str]) -> None:
    assert render_sms(replies) == expected


def test_sms_stays_gsm7_with_typographic_labels() -> None:
    options = (Option("a", "It’s “loud”"), Option("b", "Someone’s hurt – now"))
    (body,) = render_sms([Reply("What’s happening…?", options)])
    assert segments(body).encoding == "GSM-7"


def test_sms_urgent_text_is_never_trimmed() -> None:
    long_safety = Reply("Call 999. " * 40, urgent=True)
    first, _ = render_sms([NOW, long_safety])
    assert first == long_safety.text


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ([], []),
        ([WHERE], [RenderedMessage("Where did it happen?")]),
        (
            [NOW],
            [RenderedMessage(
                "Is it happening right now?",
                (Button("Yes", "yes"), Button("No", "no"), Button("Not sure", "not_sure")),
            )],
        ),
        (
            [WHAT],
            [RenderedMessage(
                "What is it about?\n\n1 Noise or loud music\n2 Threats or harassment\n"
                "3 Damage or graffiti\n\nTap one, or type all the numbers that apply, e.g. 1 3",
                (Button("Noise or loud music", "noise"),
                 Button("Threats or harassment", "threats"),
                 Button("Damage or graffiti", "vandalism")),
                multiple=True,
            )],
        ),
        (
            [THANKS, NOW, DANGER],
            [
                RenderedMessage("If you are in danger now, call 999.", urgent=True),
                RenderedMessage("Thanks – we’ve got your report…"),
                RenderedMessage(
                    "Is it happening right now?",
                    (Button("Yes", "yes"), Button("No", "no"), Button("Not sure", "not_sure")),
                ),
            ],
        ),
    ],
)
def test_render_buttons(replies: list[Reply], expected: list[RenderedMessage]) -> None:
    assert render_buttons(replies) == expected


EMAIL_TEXT = """\
If you are in danger now, call 999.

Thanks – we’ve got your report…

Reply to this email with your answers next to the numbers, for example: 1. yes

1. Is it happening right now?
   Yes / No / Not sure

2. What is it about?
   (Choose all that apply.)
   - Noise or loud music
   - Threats or harassment
   - Damage or graffiti

3. Where did it happen?

4. Where was it?
   In the stairwell / In the car park / Inside my flat
"""


def test_render_email_lists_every_question_numbered() -> None:
    body = render_email([THANKS, NOW, WHAT, DANGER, WHERE, PLACE], reference="ASB-2026-000123")
    assert body == EmailBody(
        subject="[ASB-2026-000123] Some questions about your report",
        text=EMAIL_TEXT,
        questions=(NOW, WHAT, WHERE, PLACE),
    )


@pytest.mark.parametrize(
    ("replies", "reference", "subject"),
    [
        ([NOW], None, "Some questions about your report"),
        ([NOW], "ASB-2026-000123", "[ASB-2026-000123] Some questions about your report"),
        ([THANKS], None, "About your report"),
        ([THANKS], "ASB-2026-000123", "[ASB-2026-000123] About your report"),
        ([], "", "About your report"),
    ],
)
def test_email_subject(replies: list[Reply], reference: str | None, subject: str) -> None:
    assert render_email(replies, reference=reference).subject == subject


def test_email_without_questions_has_no_instruction() -> None:
    body = render_email([DANGER, THANKS], reference=None)
    assert body.text == "If you are in danger now, call 999.\n\nThanks – we’ve got your report…\n"
    assert body.questions == ()


def test_email_urgent_question_is_numbered_first_and_multi_line_text_indented() -> None:
    urgent = Reply("Are you safe right now?\nIf not, call 999.", YES_NO[:2],
                   question_id="safe", urgent=True)
    body = render_email([WHERE, urgent], reference=None)
    assert body.questions == (urgent, WHERE)
    assert "1. Are you safe right now?\n   If not, call 999.\n   Yes / No\n\n2. Where" in body.text


def test_long_option_labels_are_bulleted_in_email() -> None:
    options = (Option("a", "Someone shouted at me or my family in the street"),
               Option("b", "Someone damaged my car or my front door"))
    body = render_email([Reply("Which?", options, question_id="q")], reference=None)
    assert body.text.endswith("1. Which?\n   - Someone shouted at me or my family in the street\n"
                              "   - Someone damaged my car or my front door\n")


def test_email_answers_inline_and_on_top_read_back() -> None:
    body = render_email([THANKS, NOW, WHAT, WHERE], reference="ASB-2026-000123")
    quoted = "\n".join("> " + line for line in body.text.splitlines())
    top_posted = f"1. yep\n2. noise, threats\n3 - the stairwell\n\nOn Tue, Jane wrote:\n{quoted}"
    inline = quoted.replace("> 2. What", "yep\n> 2. What").replace(
        "> 3. Where did it happen?", "noise and threats\n> 3. Where did it happen?\nthe stairwell")
    for reply in (top_posted, inline):
        answers = parse_numbered_answers(reply)
        assert parse_choice(answers[1], body.questions[0].options) == "yes"
        assert parse_choices(answers[2], body.questions[1].options) == frozenset(
            {"noise", "threats"})
        assert answers[3] == "the stairwell"
