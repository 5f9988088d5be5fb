"""TelegramChannel.send: one message per reply, a button per option, and what errors mean."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from channels.base import ChannelAdapter, Outgoing, SendResult
from channels.telegram import TelegramChannel
from intake.messages import Channel, Option, Reply

from .conftest import Running

CHAT = "5512345678"

QUESTION = Reply(
    "Is anyone in danger right now?",
    options=(Option("yes", "Yes"), Option("no", "No"), Option("not_sure", "Not sure")),
    question_id="danger",
)


def outgoing(*replies: Reply, recipient: str = CHAT) -> Outgoing:
    return Outgoing(key="outbox-1", channel=Channel.TELEGRAM, recipient=recipient,
                    replies=replies, context={"chat_id": recipient})


async def test_send_with_buttons_is_recorded_with_the_inline_keyboard(
    telegram: Running, caplog: pytest.LogCaptureFixture
) -> None:
    thanks = Reply("Thank you for telling us.")

    with caplog.at_level(logging.INFO):
        result = await telegram.adapter.send(outgoing(thanks, QUESTION))

    sent = telegram.sandbox.sent
    assert [(m["chat_id"], m["text"], m["reply_markup"]) for m in sent] == [
        (CHAT, "Thank you for telling us.", None),
        (CHAT, "Is anyone in danger right now?", {"inline_keyboard": [
            [{"text": "Yes", "callback_data": "yes"}],
            [{"text": "No", "callback_data": "no"}],
            [{"text": "Not sure", "callback_data": "not_sure"}],
        ]}),
    ]
    assert result == SendResult(ok=True, external_id=str(sent[-1]["message_id"]))
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "telegram sandbox: sent message" in logged
    assert "danger" not in logged and CHAT not in logged


async def test_send_to_a_user_who_blocked_the_bot_is_opted_out(telegram: Running) -> None:
    telegram.sandbox.block(CHAT)

    result = await telegram.adapter.send(outgoing(QUESTION))

    assert (result.ok, result.opted_out, result.retryable) == (False, True, False)
    assert telegram.sandbox.sent == []


@pytest.mark.parametrize(
    ("code", "description", "parameters", "retryable"),
    [
        # PTB 22's RetryAfter warns in its own constructor unless PTB_TIMEDELTA is set.
        pytest.param(
            429, "Too Many Requests: retry after 3", {"retry_after": 3}, True,
            marks=pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
        ),
        (502, "Bad Gateway", None, True),
        (400, "Bad Request: chat not found", None, False),
    ],
    ids=["flood-control", "server-error", "bad-request"],
)
async def test_send_errors_are_retryable_or_permanent(
    telegram: Running, code: int, description: str, parameters: dict[str, Any] | None,
    retryable: bool,
) -> None:
    telegram.sandbox.fail_next("sendMessage", error_code=code, description=description,
                               parameters=parameters)

    result = await telegram.adapter.send(outgoing(QUESTION))

    assert (result.ok, result.retryable, result.opted_out) == (False, retryable, False)
    assert result.error


async def test_option_value_over_64_bytes_is_refused_before_sending(telegram: Running) -> None:
    long = Reply("Pick one", options=(Option("x" * 65, "Too long"),))

    result = await telegram.adapter.send(outgoing(Reply("First"), long))

    assert (result.ok, result.retryable) == (False, False)
    assert telegram.sandbox.sent == []


async def test_send_before_start_is_retryable() -> None:
    async def handle(*_: Any, **__: Any) -> Any:
        raise AssertionError

    adapter: ChannelAdapter = TelegramChannel(token=None, mode="webhook", webhook_secret=None,
                              api_base_url=None, public_base_url="http://127.0.0.1:9",
                              handle=handle)

    result = await adapter.send(outgoing(QUESTION))

    assert (result.ok, result.retryable) == (False, True)
    assert await adapter.health() == "down: not started"


async def test_what_was_sent_is_not_listed_over_http(telegram: Running) -> None:
    await telegram.adapter.send(outgoing(Reply("Hello")))

    async with httpx.AsyncClient(base_url=telegram.base_url) as client:
        # Only the console lists it (/console/sandbox), behind a manager's session.
        assert (await client.get("/sandbox/telegram/sent")).status_code == 404

    assert [m["text"] for m in telegram.sandbox.sent] == ["Hello"]
