"""SMS size is counted the way the network bills it, and typography does not switch to UCS-2."""

from __future__ import annotations

import pytest

from intake.sms import GSM7_BASIC, GSM7_EXTENSION, SmsSize, segments, to_gsm7

EMOJI = "😀"  # outside the Basic Multilingual Plane: two UTF-16 units


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("", SmsSize("GSM-7", 0, 0), "nothing to send"),
        ("a", SmsSize("GSM-7", 1, 1), "one character"),
        ("a" * 160, SmsSize("GSM-7", 160, 1), "a full single segment"),
        ("a" * 161, SmsSize("GSM-7", 161, 2), "one over splits into two"),
        ("a" * 306, SmsSize("GSM-7", 306, 2), "two full parts of 153"),
        ("a" * 307, SmsSize("GSM-7", 307, 3), "one over two parts"),
        ("€", SmsSize("GSM-7", 2, 1), "the euro sign is in the extension table"),
        ("€" * 80, SmsSize("GSM-7", 160, 1), "80 extension characters fill one segment"),
        ("a" * 159 + "€", SmsSize("GSM-7", 161, 2), "€ counts 2 and tips it over"),
        ("^{}\\[~]|", SmsSize("GSM-7", 16, 1), "each extension character counts 2"),
        ("a" * 152 + "€" + "a" * 10, SmsSize("GSM-7", 164, 2), "escape pair fits part one"),
        ("a" * 152 + "€" + "a" * 152, SmsSize("GSM-7", 306, 3), "escape pair not split"),
        ("£1 @ Café Ñ ¿ §", SmsSize("GSM-7", 15, 1), "accented letters in GSM-7"),
        ("a\nb\rc", SmsSize("GSM-7", 5, 1), "line breaks are GSM-7"),
        ("It’s him", SmsSize("UCS-2", 8, 1), "a curly quote forces UCS-2"),
        ("a" * 69 + EMOJI, SmsSize("UCS-2", 71, 2), "an emoji counts 2 in UCS-2"),
        ("a" * 70 + "’", SmsSize("UCS-2", 71, 2), "71 UCS-2 characters split"),
        ("’" + "a" * 69, SmsSize("UCS-2", 70, 1), "a full UCS-2 segment"),
        ("’" + "a" * 134, SmsSize("UCS-2", 135, 3), "two parts of 67 hold 134"),
        ("’" + "a" * 133, SmsSize("UCS-2", 134, 2), "two full parts of 67"),
        ("’" + "a" * 65 + EMOJI + "a", SmsSize("UCS-2", 69, 1), "emoji within one segment"),
        ("’" + "a" * 65 + EMOJI + "a" * 5, SmsSize("UCS-2", 73, 2), "emoji fits part one"),
        ("’" + "a" * 65 + EMOJI + "a" * 66, SmsSize("UCS-2", 134, 3), "emoji not split"),
        ("Siobhán", SmsSize("UCS-2", 7, 1), "á is not GSM-7"),
        ("\t", SmsSize("UCS-2", 1, 1), "tab is not GSM-7"),
    ],
)
def test_segments(text: str, expected: SmsSize, why: str) -> None:
    assert segments(text) == expected, why


def test_gsm7_alphabet_has_127_characters_and_10_in_the_extension() -> None:
    assert (len(GSM7_BASIC), len(GSM7_EXTENSION)) == (127, 10)
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert "\x1b" not in GSM7_BASIC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It’s him", "It's him"),
        ("‘quiet’", "'quiet'"),
        ("“stop it”", '"stop it"'),
        ("10–11pm", "10-11pm"),
        ("him — again", "him - again"),
        ("wait…", "wait..."),
        ("Call\u00a0999", "Call 999"),
        ("£5\u202fmillion", "£5 million"),
        ("• Noise\n• Threats", "- Noise\n- Threats"),
        ("zero\u200bwidth", "zerowidth"),
        ("tab\there", "tab here"),
        ("€5 {ok}", "€5 {ok}"),
        ("Zoë 😀", "Zoë 😀"),
        ("", ""),
    ],
)
def test_to_gsm7(text: str, expected: str) -> None:
    assert to_gsm7(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "We’ve got your report… If you’re in danger – call 999.",
        "“Is it happening now?”\u00a0• Yes • No",
    ],
)
def test_to_gsm7_keeps_typography_in_gsm7(text: str) -> None:
    assert segments(text).encoding == "UCS-2"
    assert segments(to_gsm7(text)).encoding == "GSM-7"
