"""Mail in: real SMTP over loopback to the channel's own server, one test per condition."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import aiosmtplib
import pytest

from channels.email import EmailChannel
from intake.messages import Channel
from tests.channels.email.conftest import (
    NOW,
    OUR_ADDRESS,
    REPORTER,
    ChannelFactory,
    RecordingHandler,
    Relay,
    deliver,
    load,
)


async def test_plain_report_is_accepted_and_parsed(
    channel: EmailChannel, handler: RecordingHandler
) -> None:
    raw = load("plain")

    answer = await deliver(channel, raw)

    assert answer == "Message accepted"
    [message] = handler.calls
    assert message.channel is Channel.EMAIL
    assert message.sender == "sam.okafor@example.net"  # From, lower-cased
    assert message.external_id == "<CAJx8Q2bN4+fixture-plain-0001@mail.example.net>"
    assert message.subject == "Noise from flat 3 every night"
    assert message.text.startswith("Hello,\n\nThe people in flat 3 have been playing loud music")
    assert "I’m scared to go out of my flat." in message.text  # quoted-printable UTF-8
    assert message.text.endswith("Sam")
    assert message.received_at == NOW
    assert message.raw == raw
    assert message.attachments == ()
    assert message.auto_reply_allowed
    assert message.in_reply_to_reference is None
    assert message.reply_context == {
        "message_id": "<CAJx8Q2bN4+fixture-plain-0001@mail.example.net>",
        "subject": "Noise from flat 3 every night",
    }


async def test_recipient_is_matched_without_regard_to_case(
    channel: EmailChannel, handler: RecordingHandler
) -> None:
    await deliver(channel, load("plain"), recipient="Report@ASB.Example.org")

    assert len(handler.calls) == 1


async def test_stranger_address_is_refused_550_before_any_data(
    channel: EmailChannel, handler: RecordingHandler
) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await deliver(channel, load("plain"), recipient="ceo@asb.example.org")

    [recipient] = refused.value.recipients
    assert recipient.code == 550
    assert recipient.message.startswith("5.1.1")
    assert handler.calls == []


async def test_message_over_the_limit_is_refused_552_and_the_sender_told(
    make_channel: ChannelFactory, handler: RecordingHandler, relay: Relay
) -> None:
    channel = await make_channel(max_message_bytes=4096)
    big = load("plain") + b"x" * 76 + b"\r\n" * 100
    big = big.replace(b"\r\n\r\n", b"\r\n\r\n" + (b"y" * 76 + b"\r\n") * 80, 1)

    # aiosmtplib's client object does not declare SIZE on MAIL, so the data is sent.
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=channel.port) as client:
        await client.mail(REPORTER)
        await client.rcpt(OUR_ADDRESS)
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await client.data(big)

    assert refused.value.code == 552
    assert "limit is 4.1 KB" in refused.value.message
    assert handler.calls == []
    [notice] = await relay.wait()
    assert notice.rcpt_tos == [REPORTER]
    assert notice.message["Subject"] == "Your email was too large to receive"
    assert notice.message["Auto-Submitted"] == "auto-replied"
    body = notice.message.get_body()
    assert body is not None
    assert "larger than 4.1 KB" in body.get_content()


async def test_message_declared_over_the_limit_is_refused_552_at_mail(
    make_channel: ChannelFactory, handler: RecordingHandler, relay: Relay
) -> None:
    channel = await make_channel(max_message_bytes=4096)
    big = load("plain") + b"z" * 76 * 100

    # aiosmtplib.send declares SIZE (RFC 1870): refused before the data is sent; the
    # sender's own server bounces it with our wording, and we send nothing ourselves.
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
        await deliver(channel, big)

    assert refused.value.code == 552
    assert "separate emails" in refused.value.message
    await channel.wait_for_notices()
    assert handler.calls == []
    assert relay.received == []


async def test_message_over_the_limit_from_a_null_sender_gets_no_notice(
    make_channel: ChannelFactory, relay: Relay
) -> None:
    channel = await make_channel(max_message_bytes=4096)

    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=channel.port) as client:
        await client.mail("")
        await client.rcpt(OUR_ADDRESS)
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await client.data(load("plain") + (b"w" * 76 + b"\r\n") * 80)

    assert refused.value.code == 552
    await channel.wait_for_notices()
    assert relay.received == []


async def test_quoted_reply_is_stripped(channel: EmailChannel, handler: RecordingHandler) -> None:
    await deliver(channel, load("alternative_quoted_reply"))

    [message] = handler.calls
    assert message.text == "1. yes\n2. last night about 11pm"


async def test_outlook_original_message_is_stripped(
    channel: EmailChannel, handler: RecordingHandler
) -> None:
    await deliver(channel, load("outlook_reply"), sender="d.mensah@example.org.uk")

    [message] = handler.calls
    assert message.text == (
        "It happened again this morning, they left rubbish on the stairs again.\n\n"
        "Daniel Mensah"
    )
    assert message.in_reply_to_reference == "ASB-2026-000087"


async def test_html_only_message_is_turned_into_text(
    channel: EmailChannel, handler: RecordingHandler
) -> None:
    await deliver(channel, load("html_only"), sender="priya.shah@example.com")

    [message] = handler.calls
    assert message.text == (
        "Hi there,\n\n"
        "Someone has sprayed graffiti on the bin store at Elm Court. It says things about "
        "\"foreigners\" & it's right by the children’s play area.\n\n"
        "- Started: Monday night\n"
        "- Still there this morning\n\n"
        "Thanks,\nPriya"
    )


async def test_photo_attachment_and_inline_image_are_kept(
    channel: EmailChannel, handler: RecordingHandler
) -> None:
    await deliver(channel, load("photo_attachment"), sender="jo.bright@example.co.uk")

    [message] = handler.calls
    assert message.text.startswith("My car was scratched with a key overnight")
    logo, photo = message.attachments
    assert (photo.content_type, photo.filename, photo.kind) == (
        "image/jpeg", "IMG_2041.jpg", "photo"
    )
    assert photo.data is not None and photo.data.startswith(b"\xff\xd8")  # JPEG start of image
    assert photo.size == len(photo.data) == 543
    assert (logo.content_type, logo.filename, logo.size) == (
        "image/png", "signature-logo.png", 1020
    )
    assert logo.data is not None and logo.data.startswith(b"\x89PNG")


async def test_reply_threads_to_the_case_through_our_message_id(
    channel: EmailChannel, handler: RecordingHandler
) -> None:
    await deliver(channel, load("reply_to_our_message"), sender="amira.haddad@example.com")

    [message] = handler.calls
    assert message.subject == "Re: Some questions about your report"  # no reference here
    assert message.in_reply_to_reference == "ASB-2026-000123"
    assert message.text == "They did it again tonight, same men as before."  # no signature
    assert message.reply_context["references"] == (
        "<fixture-first-0001@example.com> "
        "<ASB-2026-000123.5f1c9e0b7a2d4c3e8f6a1b2c3d4e5f60@asb.example.org>"
    )


async def test_reference_in_the_subject_is_found(
    channel: EmailChannel, handler: RecordingHandler
) -> None:
    raw = load("plain").replace(
        b"Subject: Noise from flat 3 every night", b"Subject: more about ASB-2026-000042", 1
    )

    await deliver(channel, raw)

    assert handler.calls[0].in_reply_to_reference == "ASB-2026-000042"


@pytest.mark.parametrize(
    ("fixture", "sender"),
    [
        ("auto_submitted", "lee.carter@example.net"),
        ("precedence_bulk", "bounces+2840-ab12@news.example.com"),
        ("mailing_list", "residents-bounces@lists.example.org"),
        ("mailer_daemon_bounce", ""),
        ("plain", ""),  # an empty return path
    ],
    ids=["auto-submitted", "precedence-bulk", "mailing-list", "mailer-daemon", "null-sender"],
)
async def test_rfc_3834_mail_is_kept_but_never_answered(
    channel: EmailChannel, handler: RecordingHandler, fixture: str, sender: str
) -> None:
    answer = await deliver(channel, load(fixture), sender=sender)

    assert answer == "Message accepted"
    [message] = handler.calls
    assert message.auto_reply_allowed is False


async def test_mailer_daemon_without_other_signs_is_never_answered(
    channel: EmailChannel, handler: RecordingHandler
) -> None:
    raw = (
        load("mailer_daemon_bounce")
        .replace(b"Auto-Submitted: auto-replied\r\n", b"")
        .replace(b"Return-Path: <>\r\n", b"")
        .replace(b"multipart/report", b"multipart/mixed")
    )

    await deliver(channel, raw, sender="postmaster@mx.example.net")

    [message] = handler.calls
    assert message.sender == "mailer-daemon@mx.example.net"
    assert message.auto_reply_allowed is False


async def test_broken_mime_is_kept_with_a_parse_error(
    channel: EmailChannel, handler: RecordingHandler
) -> None:
    raw = load("broken_mime")

    answer = await deliver(channel, raw, sender="kim.lowe@example.net")

    assert answer == "Message accepted"
    [message] = handler.calls
    assert message.text == ""
    assert message.raw == raw
    assert message.sender == "kim.lowe@example.net"
    assert message.external_id == "<fixture-broken-0010@example.net>"
    assert message.reply_context["parse_error"] == "broken MIME: multipart boundary never found"


async def test_missing_from_is_kept_with_a_parse_error_and_the_envelope_sender(
    channel: EmailChannel, handler: RecordingHandler
) -> None:
    await deliver(channel, load("no_from"), sender="Someone@Example.org")

    [message] = handler.calls
    assert message.sender == "someone@example.org"
    assert message.text == ""
    assert message.reply_context["parse_error"] == "no From address"


async def test_missing_message_id_is_replaced_by_a_hash_of_the_bytes(
    channel: EmailChannel, handler: RecordingHandler
) -> None:
    raw = load("no_message_id")

    await deliver(channel, raw, sender="tom.price@example.org")
    await deliver(channel, raw, sender="tom.price@example.org")

    first, again = handler.calls
    assert first.external_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert again.external_id == first.external_id  # a redelivery is recognised
    assert len(handler.stored) == 1
    assert "message_id" not in first.reply_context


async def test_handler_failure_answers_451_and_the_redelivery_is_accepted(
    channel: EmailChannel, handler: RecordingHandler
) -> None:
    handler.failures = 1
    raw = load("plain")

    with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
        await deliver(channel, raw)
    answer = await deliver(channel, raw)  # the sending server tries again later

    assert deferred.value.code == 451
    assert deferred.value.message.startswith("4.3.0")
    assert answer == "Message accepted"
    failed, redelivered = handler.calls
    assert redelivered.raw == failed.raw == raw
    assert redelivered.external_id == failed.external_id
    assert handler.stored == [redelivered]


async def test_info_logs_carry_no_addresses_or_bodies(
    channel: EmailChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    await deliver(channel, load("plain"))

    logged = caplog.text.lower()
    assert "example.net" in logged  # the sender's domain is enough to trace a delivery
    for secret in ("sam.okafor", OUR_ADDRESS, "flat 3", "<cajx8q2bn4"):
        assert secret not in logged


async def test_health_is_ok_while_listening_and_down_after_stop(channel: EmailChannel) -> None:
    port = channel.port

    assert await channel.health() == "ok"
    await channel.stop()

    assert (await channel.health()).startswith("down")
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await aiosmtplib.send(
            load("plain"), sender=REPORTER, recipients=[OUR_ADDRESS], hostname="127.0.0.1",
            port=port, timeout=5,
        )


async def test_stop_does_not_wait_for_an_idle_connection(channel: EmailChannel) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=channel.port, timeout=5)
    await client.connect()
    await client.ehlo()

    async with asyncio.timeout(5):
        await channel.stop()

    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await client.noop()
    client.close()
