"""Reporters' messages as officers read them, from each channel's raw payload."""

from __future__ import annotations

import json

import pytest

from casework.console.views import countdown, readable

EMAIL = (
    "From: Sam <sam@example.org>\r\nTo: report@asb.example.org\r\nSubject: Noise again\r\n"
    "Message-ID: <1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "They were shouting at 2am.\r\n"
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ToCountry=GB&Body=They+shouted+%3Cb%3E&From=%2B447700900123", "They shouted <b>"),
        (json.dumps({"text": "from the web chat", "choice": None}), "from the web chat"),
        (json.dumps({"text": "", "choice": "yes"}), "yes"),
        (json.dumps({"update_id": 1, "message": {"text": "from telegram"}}), "from telegram"),
        (json.dumps({"update_id": 1, "message": {"caption": "a photo"}}), "a photo"),
        (json.dumps({"update_id": 2, "callback_query": {"data": "no"}}), "no"),
        (EMAIL, "Noise again\nThey were shouting at 2am."),
        ("typed in the terminal", "typed in the terminal"),
        ("{not json", "{not json"),
    ],
)
def test_readable(raw: str, expected: str) -> None:
    assert readable(raw) == expected


@pytest.mark.parametrize(
    ("minutes", "words"),
    [(5, "due in 5 min"), (-5, "overdue by 5 min"), (125, "due in 2 h 5 min"),
     (60 * 26, "due in 1 day 2 h"), (60 * 24 * 3 + 60, "due in 3 days 1 h"),
     (-60 * 24 * 10, "overdue by 10 days")],
)
def test_countdown(minutes: int, words: str) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 8, 28, 12, 0, tzinfo=UTC)
    assert countdown(now + timedelta(minutes=minutes), now) == words
