"""Reading mail without a server: quoted text, HTML, RFC 3834 and broken input, as tables."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest

from channels.email import auto_reply_refusal, html_to_text, parse, strip_quoted
from tests.channels.email.conftest import OUR_ADDRESS, load

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "yes please\n\nOn Tue, 3 Mar 2026 at 10:15, ASB Reports <report@asb.example.org>"
            " wrote:\n> What happened?\n",
            "yes please",
            id="gmail-attribution",
        ),
        pytest.param(
            "ok\n\nOn Tue, 3 Mar 2026 at 10:15, ASB Reports <\nreport@asb.example.org> wrote:\n"
            "\n> What happened?\n",
            "ok",
            id="attribution-wrapped-over-two-lines",
        ),
        pytest.param(
            "> 1. Has this happened before?\nyes, twice\n> 2. When?\nlast night\n",
            "yes, twice\nlast night",
            id="answers-between-quoted-lines",
        ),
        pytest.param(
            "On 12 March the man next door wrote:\nGET OUT OF OUR BUILDING\n",
            "On 12 March the man next door wrote:\nGET OUT OF OUR BUILDING",
            id="evidence-that-looks-like-an-attribution",
        ),
        pytest.param(
            "It happened again.\n\n________________________________\nFrom: ASB Reports "
            "<report@asb.example.org>\nSent: 04 March 2026 16:20\nTo: Dan\nSubject: About "
            "your report\n\nThank you for your report.\n",
            "It happened again.",
            id="outlook-from-sent-block",
        ),
        pytest.param(
            "Still happening.\n\nFrom: ASB Reports <report@asb.example.org>\nDate: Tuesday, "
            "3 March 2026 at 10:15\nTo: Dan <dan@example.net>\nSubject: About your report\n"
            "\nThank you for your report.\n",
            "Still happening.",
            id="outlook-for-mac-from-date-block",
        ),
        pytest.param(
            "Still happening\n-----Original Message-----\nFrom: ASB\nthe original\n",
            "Still happening",
            id="outlook-original-message",
        ),
        pytest.param(
            "They did it again.\n\n-- \nAmira Haddad\n07700 900123\n",
            "They did it again.",
            id="signature",
        ),
        pytest.param(
            "From: 9pm until 2am\nthe music was loud\n",
            "From: 9pm until 2am\nthe music was loud",
            id="from-that-is-not-a-header-block",
        ),
        pytest.param(
            "first line\n\n\n\nsecond line\n", "first line\n\nsecond line", id="blank-lines-tidied"
        ),
    ],
)
def test_strip_quoted(text: str, expected: str) -> None:
    assert strip_quoted(text) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param(
            "<html><head><title>x</title><style>p{}</style></head><body><p>Hi</p></body></html>",
            "Hi",
            id="head-and-style-left-out",
        ),
        pytest.param("<p>one<br>two</p><div>three</div>", "one\ntwo\n\nthree", id="breaks"),
        pytest.param(
            "<p>Fish &amp; chips &lt;3 &#8364;5</p>", "Fish & chips <3 €5", id="entities"
        ),
        pytest.param(
            "<div>2. yesterday</div><div class='gmail_quote'>On Tue, 3 Mar 2026 at 10:15, ASB "
            "wrote:<br><blockquote>2. When did it happen?</blockquote></div>",
            "2. yesterday\nOn Tue, 3 Mar 2026 at 10:15, ASB wrote:",
            id="blockquote-left-out",
        ),
        pytest.param(
            "<p>see   this\n   text</p><pre>kept   as\n  is</pre>",
            "see this text\n\nkept   as\nis",
            id="whitespace",
        ),
        pytest.param("<head><title>no end of head<body>hello", "hello", id="unclosed-head"),
        pytest.param(
            "<table><tr><td>Date</td><td>3 March</td></tr></table>", "Date 3 March", id="table"
        ),
    ],
)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_outlook_html_reply_becomes_the_new_text_only() -> None:
    message = email.message_from_bytes(load("outlook_reply"), policy=email.policy.default)
    html = message.get_body(preferencelist=("html",))
    assert html is not None

    text = strip_quoted(html_to_text(html.get_content()))

    assert text == (
        "It happened again this morning, they left rubbish on the stairs again.\n\n"
        "Daniel Mensah"
    )


def test_gmail_html_reply_becomes_the_new_text_only() -> None:
    message = email.message_from_bytes(
        load("alternative_quoted_reply"), policy=email.policy.default
    )
    html = message.get_body(preferencelist=("html",))
    assert html is not None

    assert strip_quoted(html_to_text(html.get_content())) == "1. yes\n2. last night about 11pm"


HEADERS = "From: Sam <sam@example.net>\r\nTo: report@asb.example.org\r\n"


@pytest.mark.parametrize(
    ("extra", "sender", "envelope", "expected"),
    [
        ("", "sam@example.net", "sam@example.net", None),
        ("Auto-Submitted: no\r\n", "sam@example.net", "sam@example.net", None),
        ("Auto-Submitted: auto-generated\r\n", "sam@example.net", "sam@example.net",
         "Auto-Submitted"),
        ("Auto-Submitted: auto-replied; owner-email=x@y\r\n", "sam@example.net",
         "sam@example.net", "Auto-Submitted"),
        ("Precedence: List\r\n", "sam@example.net", "sam@example.net", "Precedence"),
        ("Precedence: junk\r\n", "sam@example.net", "sam@example.net", "Precedence"),
        ("Precedence: first-class\r\n", "sam@example.net", "sam@example.net", None),
        ("List-Id: <residents.lists.example.org>\r\n", "sam@example.net", "sam@example.net",
         "List-Id"),
        ("List-Unsubscribe: <mailto:leave@lists.example.org>\r\n", "sam@example.net",
         "sam@example.net", "List-Unsubscribe"),
        ("", "sam@example.net", "", "empty return path"),
        ("", "postmaster@example.net", "postmaster@example.net", "sender is a mail system"),
        ("", "sam@example.net", "mailer-daemon@mx.example.net", "sender is a mail system"),
        ("", "residents-request@lists.example.org", "x@example.org", "sender is a mail system"),
        ("", OUR_ADDRESS, OUR_ADDRESS, "sender is ourselves"),
    ],
)
def test_auto_reply_refusal(extra: str, sender: str, envelope: str, expected: str | None) -> None:
    message = email.message_from_string(HEADERS + extra + "\r\nhello\r\n",
                                        policy=email.policy.default)

    assert auto_reply_refusal(message, sender, envelope, (OUR_ADDRESS,)) == expected


def test_forwarded_evidence_is_kept_whole() -> None:
    raw = (
        b"From: Sam <sam@example.net>\r\nTo: report@asb.example.org\r\nSubject: Fwd: threat\r\n"
        b"Message-ID: <fwd-1@example.net>\r\n\r\nThis came tonight.\r\n-- \r\nSam\r\n\r\n"
        b"---------- Forwarded message ---------\r\nFrom: X <x@example.com>\r\n"
        b"Date: Tue, 3 Mar 2026\r\n\r\n> we know where you live\r\n"
    )

    message = parse(raw, envelope_sender="sam@example.net", received_at=NOW)

    assert "we know where you live" in message.text
    assert message.text.startswith("This came tonight.")


def test_unknown_charset_is_read_as_utf8_rather_than_lost() -> None:
    raw = (
        "From: sam@example.net\r\nMessage-ID: <cs-1@example.net>\r\n"
        "Content-Type: text/plain; charset=x-unknown-8\r\n\r\nnoise at 3am – again\r\n"
    ).encode()

    message = parse(raw, envelope_sender="sam@example.net", received_at=NOW)

    assert message.text == "noise at 3am – again"
    assert "parse_error" not in message.reply_context


def test_overlong_message_id_is_hashed_to_fit_the_store() -> None:
    long_id = "<" + "a" * 300 + "@example.net>"
    raw = f"From: sam@example.net\r\nMessage-ID: {long_id}\r\n\r\nhello\r\n".encode()

    message = parse(raw, envelope_sender="sam@example.net", received_at=NOW)

    assert message.external_id.startswith("sha256:")
    assert len(message.external_id) <= 255
    assert message.reply_context["message_id"] == long_id


def test_bytes_that_are_not_mail_are_kept_with_a_parse_error() -> None:
    raw = b"\x00\xff\xfe binary junk \r\n\r\n\x00"

    message = parse(raw, envelope_sender="", received_at=NOW)

    assert message.raw == raw
    assert message.text == ""
    assert message.sender == ""
    assert message.reply_context["parse_error"] == "no From address"
    assert message.auto_reply_allowed is False
