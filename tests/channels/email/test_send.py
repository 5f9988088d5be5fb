"""Mail out: replies through a real SMTP relay stand-in on loopback."""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import format_datetime

from channels.base import Outgoing
from channels.email import EmailChannel
from intake.messages import Channel, Option, Reply
from tests.channels.email.conftest import (
    FROM_ADDRESS,
    NOW,
    REPORTER,
    ChannelFactory,
    Clock,
    RecordingHandler,
    Relay,
    deliver,
    free_port,
    load,
)

REPLIES = (
    Reply("Thank you. Your reference is ASB-2026-000123."),
    Reply("Has this happened before?", options=(Option("yes", "Yes"), Option("no", "No")),
          question_id="before"),
)
CONTEXT = {
    "message_id": "<CAJx8Q2bN4+fixture-plain-0001@mail.example.net>",
    "subject": "Noise from flat 3 every night",
    "references": "<earlier-0001@mail.example.net>",
}


def reply(key: str = "reply:1:0", **changes: object) -> Outgoing:
    fields: dict[str, object] = {
        "key": key,
        "channel": Channel.EMAIL,
        "recipient": REPORTER,
        "replies": REPLIES,
        "reference": "ASB-2026-000123",
        "context": CONTEXT,
    }
    fields.update(changes)
    return Outgoing(**fields)  # type: ignore[arg-type]


async def test_reply_goes_through_the_relay_threaded_and_marked_auto_replied(
    channel: EmailChannel, relay: Relay
) -> None:
    result = await channel.send(reply())

    assert result.ok
    [received] = await relay.wait()
    assert received.mail_from == FROM_ADDRESS
    assert received.rcpt_tos == [REPORTER]
    message = received.message
    assert message["From"] == FROM_ADDRESS
    assert message["To"] == REPORTER
    assert message["Subject"] == "Re: [ASB-2026-000123] Noise from flat 3 every night"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["In-Reply-To"] == CONTEXT["message_id"]
    assert message["References"] == (
        "<earlier-0001@mail.example.net> <CAJx8Q2bN4+fixture-plain-0001@mail.example.net>"
    )
    assert message["Date"] == format_datetime(NOW)
    assert re.fullmatch(r"<ASB-2026-000123\.[0-9a-f]{32}@asb\.example\.org>", message["Message-ID"])
    assert result.external_id == message["Message-ID"]
    body = message.get_body()
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")
    assert text.startswith("Thank you. Your reference is ASB-2026-000123.")
    assert "1. Has this happened before?\n   Yes / No" in text


async def test_a_reply_to_our_reply_threads_back_to_the_case(
    channel: EmailChannel, relay: Relay, handler: RecordingHandler
) -> None:
    await channel.send(reply())
    [sent] = await relay.wait()
    answer = load("reply_to_our_message").replace(
        b"<ASB-2026-000123.5f1c9e0b7a2d4c3e8f6a1b2c3d4e5f60@asb.example.org>",
        sent.message["Message-ID"].encode(),
    ).replace(b"Re: Some questions", b"Re: Questions")

    await deliver(channel, answer, sender="amira.haddad@example.com")

    assert handler.calls[0].in_reply_to_reference == "ASB-2026-000123"


async def test_subject_already_replied_to_gets_one_re_and_one_reference(
    channel: EmailChannel, relay: Relay
) -> None:
    context = {**CONTEXT, "subject": "RE: Re: [ASB-2026-000123] Noise from flat 3 every night"}

    await channel.send(reply(context=context))

    [received] = await relay.wait()
    assert received.message["Subject"] == "Re: [ASB-2026-000123] Noise from flat 3 every night"


async def test_without_an_inbound_message_the_rendered_subject_is_used(
    channel: EmailChannel, relay: Relay
) -> None:
    await channel.send(reply(context={}))

    [received] = await relay.wait()
    message = received.message
    assert message["Subject"] == "[ASB-2026-000123] Some questions about your report"
    assert message["Auto-Submitted"] == "auto-generated"  # not an answer to a message
    assert message["In-Reply-To"] is None


async def test_an_explicit_subject_wins(channel: EmailChannel, relay: Relay) -> None:
    await channel.send(reply(subject="New P1 case ASB-2026-000123: hate incident"))

    [received] = await relay.wait()
    assert received.message["Subject"] == "New P1 case ASB-2026-000123: hate incident"


async def test_replies_to_one_sender_are_rate_limited_per_sliding_hour(
    make_channel: ChannelFactory, relay: Relay, clock: Clock
) -> None:
    channel = await make_channel(replies_per_sender_per_hour=2)

    first = await channel.send(reply("a"))
    clock.advance(timedelta(minutes=30))
    second = await channel.send(reply("b"))
    third = await channel.send(reply("c"))
    other = await channel.send(reply("d", recipient="someone.else@example.com"))
    clock.advance(timedelta(minutes=31))  # the first has left the window; the second has not
    fourth = await channel.send(reply("e"))
    fifth = await channel.send(reply("f"))

    assert first.ok and second.ok and other.ok and fourth.ok
    for limited in (third, fifth):
        assert (limited.ok, limited.retryable, limited.error) == (False, True, "rate limited")
    assert len(relay.received) == 4


async def test_relay_down_is_retryable_and_does_not_use_up_the_hour(
    make_channel: ChannelFactory,
) -> None:
    channel = await make_channel(relay_port=free_port(), replies_per_sender_per_hour=1)

    first = await channel.send(reply("a"))
    second = await channel.send(reply("b"))

    for result in (first, second):
        assert (result.ok, result.retryable) == (False, True)
        assert result.error is not None and result.error.startswith("relay unreachable")


async def test_relay_refusing_the_recipient_permanently_is_not_retried(
    make_channel: ChannelFactory, relay: Relay
) -> None:
    relay.rcpt_status = "550 5.1.1 no such user"
    channel = await make_channel()

    result = await channel.send(reply())

    assert (result.ok, result.retryable, result.error) == (False, False, "recipient refused (550)")


async def test_relay_deferring_the_recipient_is_retried(
    make_channel: ChannelFactory, relay: Relay
) -> None:
    relay.rcpt_status = "451 4.7.1 greylisted, try again later"
    channel = await make_channel()

    result = await channel.send(reply())

    assert (result.ok, result.retryable, result.error) == (False, True, "recipient refused (451)")


async def test_relay_credentials_are_used_when_set(make_channel: ChannelFactory) -> None:
    relay = Relay(password="s3cret-relay")
    await relay.start()
    try:
        channel = await make_channel(
            relay_port=relay.port, relay_username="asb-intake", relay_password="s3cret-relay"
        )

        result = await channel.send(reply())

        assert result.ok
        assert relay.logins == [(b"asb-intake", b"s3cret-relay")]
        assert len(relay.received) == 1
    finally:
        await relay.stop()


async def test_relay_refusing_the_login_is_retryable(make_channel: ChannelFactory) -> None:
    relay = Relay(password="the-right-one")
    await relay.start()
    try:
        channel = await make_channel(
            relay_port=relay.port, relay_username="asb-intake", relay_password="a-wrong-one"
        )

        result = await channel.send(reply())

        assert (result.ok, result.retryable) == (False, True)
        assert result.error == "relay login refused (535)"
        assert relay.received == []
    finally:
        await relay.stop()


async def test_a_recipient_that_is_not_an_address_fails_permanently(
    channel: EmailChannel, relay: Relay
) -> None:
    result = await channel.send(reply(recipient="+447700900123"))

    assert (result.ok, result.retryable, result.error) == (False, False, "not an email address")
    assert relay.received == []
