"""The inbound message webhook: verify, translate, hand on, answer with TwiML."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import UTC
from urllib.parse import urlencode

import httpx
import pytest

from channels.twilio import MESSAGES_PATH
from intake.messages import Channel
from intake.render import render_sms

from .conftest import (
    ACCOUNT_SID,
    INTERNAL_BASE_URL,
    OUR_NUMBER,
    PUBLIC_BASE_URL,
    REPORTER,
    AdapterFactory,
    RecordingHandler,
    asgi_client,
    load_fixture,
    post_form,
    sign,
)


def twiml_messages(response: httpx.Response) -> list[str]:
    """The bodies of the <Message> elements of a TwiML answer."""
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return [message.text or "" for message in root.findall("Message")]


async def test_signed_sms_is_handed_on_and_answered_with_the_replies_as_twiml(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    fields = load_fixture("sms")

    response = await post_form(webhook, MESSAGES_PATH, fields)

    assert response.status_code == 200
    [(message, inline)] = handler.calls
    assert inline is True
    assert message.channel is Channel.SMS
    assert message.sender == REPORTER
    assert message.external_id == fields["MessageSid"]
    assert message.text == fields["Body"]
    assert message.raw == urlencode(fields).encode()
    assert message.reply_context == {"to": OUR_NUMBER}
    assert message.received_at.tzinfo is UTC
    assert message.attachments == ()
    answered = handler.answered[fields["MessageSid"]]
    assert twiml_messages(response) == render_sms(answered.replies)


async def test_forged_signature_is_refused_and_nothing_is_handed_on(
    webhook: httpx.AsyncClient, handler: RecordingHandler, caplog: pytest.LogCaptureFixture
) -> None:
    fields = load_fixture("sms")

    with caplog.at_level(logging.WARNING, logger="channels.twilio"):
        response = await post_form(webhook, MESSAGES_PATH, fields, token="not-the-token")

    assert response.status_code == 403
    assert handler.calls == []
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "signature" in line
    assert fields["Body"] not in line and REPORTER not in line


async def test_unsigned_request_is_refused(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    response = await webhook.post(MESSAGES_PATH, data=load_fixture("sms"))

    assert response.status_code == 403
    assert handler.calls == []


async def test_request_altered_after_signing_is_refused(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    fields = load_fixture("sms")
    signed = {**fields, "Body": "something else entirely"}
    body = urlencode(fields).encode()

    response = await webhook.post(
        MESSAGES_PATH,
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": sign(PUBLIC_BASE_URL + MESSAGES_PATH, signed)},
    )

    assert response.status_code == 403
    assert handler.calls == []


async def test_redelivery_of_a_message_sid_is_answered_with_the_first_replies(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    fields = load_fixture("sms")

    first = await post_form(webhook, MESSAGES_PATH, fields)
    again = await post_form(webhook, MESSAGES_PATH, fields)

    assert first.status_code == again.status_code == 200
    assert len(handler.calls) == 2
    assert {m.external_id for m in handler.messages} == {fields["MessageSid"]}
    assert again.content == first.content


@pytest.mark.parametrize("missing", ["From", "MessageSid"])
async def test_message_without_a_required_field_is_a_bad_request(
    webhook: httpx.AsyncClient, handler: RecordingHandler, caplog: pytest.LogCaptureFixture,
    missing: str,
) -> None:
    fields = {k: v for k, v in load_fixture("sms").items() if k != missing}

    with caplog.at_level(logging.WARNING, logger="channels.twilio"):
        response = await post_form(webhook, MESSAGES_PATH, fields)

    assert response.status_code == 400
    assert handler.calls == []
    assert any(missing in r.getMessage() for r in caplog.records)


async def test_unknown_event_without_a_message_sid_is_a_bad_request(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    response = await post_form(webhook, MESSAGES_PATH, load_fixture("voice_call"))

    assert response.status_code == 400
    assert handler.calls == []


async def test_message_for_another_account_is_refused(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    fields = {**load_fixture("sms"), "AccountSid": "AC" + "9" * 32}

    response = await post_form(webhook, MESSAGES_PATH, fields)

    assert response.status_code == 403
    assert handler.calls == []


async def test_whatsapp_message_is_on_the_whatsapp_channel_without_the_prefix(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    fields = load_fixture("whatsapp")

    response = await post_form(webhook, MESSAGES_PATH, fields)

    assert response.status_code == 200
    [message] = handler.messages
    assert message.channel is Channel.WHATSAPP
    assert message.sender == "+447700900456"
    assert message.reply_context == {"to": "whatsapp:" + OUR_NUMBER}
    assert twiml_messages(response) == render_sms(handler.answered[message.external_id].replies)


# --- behind a proxy that ends TLS ---------------------------------------------------------


async def test_behind_a_proxy_the_signature_is_checked_against_the_public_url(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    # The request arrives on http://127.0.0.1:8000; Twilio signed https://asb.example.org.
    response = await post_form(webhook, MESSAGES_PATH, load_fixture("sms"),
                               signed_url=PUBLIC_BASE_URL + MESSAGES_PATH)

    assert response.status_code == 200
    assert len(handler.calls) == 1


async def test_a_signature_for_the_url_the_app_sees_is_refused(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    response = await post_form(webhook, MESSAGES_PATH, load_fixture("sms"),
                               signed_url=INTERNAL_BASE_URL + MESSAGES_PATH)

    assert response.status_code == 403
    assert handler.calls == []


async def test_the_query_string_is_part_of_the_signed_url(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    path = MESSAGES_PATH + "?number=main"

    response = await post_form(webhook, path, load_fixture("sms"))

    assert response.status_code == 200
    assert len(handler.calls) == 1


async def test_forwarded_headers_give_the_signed_url_when_trusted(
    make_adapter: AdapterFactory, handler: RecordingHandler
) -> None:
    adapter = make_adapter(trust_forwarded_headers=True, public_base_url="https://unused.invalid")
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "asb.example.org"}

    async with asgi_client(adapter) as client:
        response = await post_form(client, MESSAGES_PATH, load_fixture("sms"),
                                   signed_url=PUBLIC_BASE_URL + MESSAGES_PATH, headers=forwarded)

    assert response.status_code == 200
    assert len(handler.calls) == 1


async def test_forwarded_headers_are_ignored_unless_trusted(
    make_adapter: AdapterFactory, handler: RecordingHandler
) -> None:
    adapter = make_adapter(public_base_url="https://asb.example.org")
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "attacker.example"}

    async with asgi_client(adapter) as client:
        response = await post_form(client, MESSAGES_PATH, load_fixture("sms"),
                                   signed_url="https://attacker.example" + MESSAGES_PATH,
                                   headers=forwarded)

    assert response.status_code == 403
    assert handler.calls == []


# --- Twilio's own keywords ----------------------------------------------------------------


@pytest.mark.parametrize("word", ["STOP", "stop", " Unsubscribe ", "START", "HELP", "info"])
async def test_twilio_keyword_is_handed_on_but_answered_with_empty_twiml(
    webhook: httpx.AsyncClient, handler: RecordingHandler, word: str
) -> None:
    fields = {**load_fixture("stop"), "Body": word}

    response = await post_form(webhook, MESSAGES_PATH, fields)

    assert response.status_code == 200
    [message] = handler.messages
    assert message.text == word
    assert twiml_messages(response) == []


async def test_a_keyword_inside_a_sentence_is_answered_as_usual(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    fields = {**load_fixture("stop"), "Body": "please stop them shouting"}

    response = await post_form(webhook, MESSAGES_PATH, fields)

    assert twiml_messages(response) == render_sms(handler.answered[fields["MessageSid"]].replies)


async def test_stop_on_whatsapp_is_answered_by_us_since_twilio_does_not(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    fields = {**load_fixture("whatsapp"), "Body": "STOP"}

    response = await post_form(webhook, MESSAGES_PATH, fields)

    assert twiml_messages(response) == render_sms(handler.answered[fields["MessageSid"]].replies)


# --- privacy -------------------------------------------------------------------------------


async def test_info_logs_carry_neither_the_text_nor_the_full_number(
    webhook: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    fields = load_fixture("sms")

    with caplog.at_level(logging.INFO, logger="channels.twilio"):
        await post_form(webhook, MESSAGES_PATH, fields)

    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any(fields["MessageSid"] in line and "***123" in line for line in lines)
    assert not any(fields["Body"] in line or REPORTER in line for line in lines)
    assert not any(ACCOUNT_SID in line for line in lines)
