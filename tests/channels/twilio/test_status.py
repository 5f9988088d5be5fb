"""Delivery status callbacks: verified, then reported to the delivery handler."""

from __future__ import annotations

import httpx

from channels.twilio import MESSAGES_PATH, STATUS_PATH
from intake.messages import Channel

from .conftest import PUBLIC_BASE_URL, RecordingDelivery, load_fixture, post_form


async def test_delivered_callback_is_forwarded(
    webhook: httpx.AsyncClient, delivery: RecordingDelivery
) -> None:
    fields = load_fixture("status_delivered")

    response = await post_form(webhook, STATUS_PATH, fields)

    assert response.status_code == 204
    assert delivery.calls == [(Channel.SMS, fields["MessageSid"], "delivered", None)]


async def test_undelivered_callback_carries_the_error_code(
    webhook: httpx.AsyncClient, delivery: RecordingDelivery
) -> None:
    fields = load_fixture("status_undelivered")

    response = await post_form(webhook, STATUS_PATH, fields)

    assert response.status_code == 204
    assert delivery.calls == [(Channel.SMS, fields["MessageSid"], "undelivered", "30003")]


async def test_whatsapp_read_receipt_is_forwarded_on_the_whatsapp_channel(
    webhook: httpx.AsyncClient, delivery: RecordingDelivery
) -> None:
    fields = load_fixture("status_whatsapp_read")

    response = await post_form(webhook, STATUS_PATH, fields)

    assert response.status_code == 204
    assert delivery.calls == [(Channel.WHATSAPP, fields["MessageSid"], "read", None)]


async def test_unsigned_callback_is_refused_and_not_forwarded(
    webhook: httpx.AsyncClient, delivery: RecordingDelivery
) -> None:
    response = await webhook.post(STATUS_PATH, data=load_fixture("status_delivered"))

    assert response.status_code == 403
    assert delivery.calls == []


async def test_callback_signed_for_the_message_webhook_is_refused(
    webhook: httpx.AsyncClient, delivery: RecordingDelivery
) -> None:
    response = await post_form(webhook, STATUS_PATH, load_fixture("status_delivered"),
                               signed_url=PUBLIC_BASE_URL + MESSAGES_PATH)

    assert response.status_code == 403
    assert delivery.calls == []


async def test_callback_without_a_status_is_a_bad_request(
    webhook: httpx.AsyncClient, delivery: RecordingDelivery
) -> None:
    fields = {k: v for k, v in load_fixture("status_delivered").items()
              if k not in ("MessageStatus", "SmsStatus")}

    response = await post_form(webhook, STATUS_PATH, fields)

    assert response.status_code == 400
    assert delivery.calls == []


async def test_inbound_status_is_ignored(
    webhook: httpx.AsyncClient, delivery: RecordingDelivery
) -> None:
    fields = {**load_fixture("status_delivered"), "MessageStatus": "received"}

    response = await post_form(webhook, STATUS_PATH, fields)

    assert response.status_code == 204
    assert delivery.calls == []
