"""POST /webhooks/telegram: verify the secret, then reject, ignore or hand on (fixtures are
real-shaped updates, posted to the adapter served on loopback)."""

from __future__ import annotations

import json
import logging
from datetime import UTC
from typing import Any

import pytest

from channels.telegram_sandbox import TelegramSandbox
from intake.messages import Channel

from .conftest import Running, fixture_bytes, fixture_json


async def test_text_message_is_handed_on(telegram: Running) -> None:
    body = fixture_bytes("text_message")

    response = await telegram.post_update(body)

    assert response.status_code == 200
    [message] = telegram.handler.messages
    assert message.channel is Channel.TELEGRAM
    assert message.sender == "5512345678"
    assert message.external_id == "804512001"
    assert message.text.startswith("The people at number 12 shout abuse")
    assert message.raw == body
    assert message.reply_context == {"chat_id": "5512345678"}
    assert message.received_at.tzinfo is UTC
    assert message.choice is None and message.attachments == ()
    assert telegram.handler.inline == [False]


@pytest.mark.parametrize(
    ("text", "word"),
    [("/start", "start"), ("/help", "help"), ("/start@asb_reports_sandbox_bot", "start"),
     ("/start ref-leaflet", "start")],
)
async def test_commands_become_the_engines_command_words(
    telegram: Running, text: str, word: str
) -> None:
    update = fixture_json("start_command")
    update["message"]["text"] = text

    response = await telegram.post_update(json.dumps(update).encode())

    assert response.status_code == 200
    assert [m.text for m in telegram.handler.messages] == [word]


@pytest.mark.parametrize(
    ("secret", "logged"), [("not-the-secret", "wrong"), (None, "missing"), ("", "missing")]
)
async def test_wrong_or_missing_secret_is_refused(
    telegram: Running, caplog: pytest.LogCaptureFixture, secret: str | None, logged: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="channels.telegram"):
        response = await telegram.post_update(fixture_bytes("text_message"), secret=secret)

    assert response.status_code == 403
    assert telegram.handler.messages == []
    assert any(f"{logged} secret token" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)


@pytest.mark.parametrize(
    "body",
    [
        fixture_bytes("malformed"),
        b"",
        b"[]",
        b'{"message": {"text": "no update id"}}',
        b'{"update_id": "804512010"}',
        b'{"update_id": 804512011, "message": "not a message"}',
        b"\xff\xfe not utf-8",
    ],
    ids=["truncated", "empty", "array", "no-update-id", "string-update-id", "bad-message",
         "not-utf8"],
)
async def test_malformed_body_is_refused(
    telegram: Running, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    with caplog.at_level(logging.WARNING, logger="channels.telegram"):
        response = await telegram.post_update(body)

    assert response.status_code == 400
    assert telegram.handler.messages == []
    assert any("refused" in r.getMessage() for r in caplog.records)


async def test_replayed_update_is_handed_on_again_for_the_handler_to_dedupe(
    telegram: Running,
) -> None:
    body = fixture_bytes("text_message")

    first = await telegram.post_update(body)
    second = await telegram.post_update(body)

    assert (first.status_code, second.status_code) == (200, 200)
    assert [m.external_id for m in telegram.handler.messages] == ["804512001", "804512001"]


async def test_button_press_sets_the_choice_and_answers_the_callback(telegram: Running) -> None:
    response = await telegram.post_update(fixture_bytes("callback_query"))

    assert response.status_code == 200
    [message] = telegram.handler.messages
    assert message.choice == "not_sure"
    assert message.text == "Not sure"
    assert message.sender == "5512345678"
    assert message.external_id == "804512003"
    assert telegram.sandbox.callback_answers == [
        {"callback_query_id": "2367568912748123456", "text": None}
    ]


FILES: dict[str, bytes] = {
    "AgACAgQAAxkBAAMTZ1large": b"\xff\xd8\xff\xe0 largest photo",
    "AgACAgQAAxkBAAMTZ1medium": b"\xff\xd8\xff\xe0 medium photo",
    "AgACAgQAAxkBAAMTZ1small": b"\xff\xd8\xff\xe0 small photo",
    "AwACAgQAAxkBAAMUZ1voice": b"OggS voice note",
    "BQACAgQAAxkBAAMVZ1document": b"%PDF-1.7 diary",
}


def _with_files(sandbox: TelegramSandbox) -> None:
    for file_id, data in FILES.items():
        sandbox.add_file(file_id, data, file_path=f"media/{file_id[-8:]}.bin")


@pytest.mark.parametrize(
    ("fixture", "text", "expected"),
    [
        ("photo_with_caption", "Graffiti sprayed on the stairwell door again",
         ("image/jpeg", None, FILES["AgACAgQAAxkBAAMTZ1large"])),
        ("voice_note", "", ("audio/ogg", None, FILES["AwACAgQAAxkBAAMUZ1voice"])),
        ("document", "My diary of the noise",
         ("application/pdf", "noise diary October.pdf", FILES["BQACAgQAAxkBAAMVZ1document"])),
    ],
)
async def test_media_is_downloaded_through_the_bot_api(
    start_adapter: Any, fixture: str, text: str, expected: tuple[str, str | None, bytes]
) -> None:
    async with start_adapter(prepare=_with_files) as telegram:
        response = await telegram.post_update(fixture_bytes(fixture))

        assert response.status_code == 200
        [message] = telegram.handler.messages
        [attachment] = message.attachments
        assert message.text == text
        assert (attachment.content_type, attachment.filename, attachment.data) == expected
        assert attachment.size == len(expected[2])
        assert attachment.url is None


async def test_media_over_the_size_limit_is_noted_but_not_fetched(start_adapter: Any) -> None:
    async with start_adapter(prepare=_with_files, max_file_bytes=10_000) as telegram:
        response = await telegram.post_update(fixture_bytes("document"))

        assert response.status_code == 200
        [attachment] = telegram.handler.messages[0].attachments
        assert (attachment.content_type, attachment.size, attachment.data) == (
            "application/pdf", 51873, None)


async def test_media_download_failing_for_now_leaves_the_update_for_telegram_to_retry(
    start_adapter: Any,
) -> None:
    def failing(sandbox: TelegramSandbox) -> None:
        _with_files(sandbox)
        sandbox.fail_next("getFile", error_code=502, description="Bad Gateway")

    async with start_adapter(prepare=failing) as telegram:
        first = await telegram.post_update(fixture_bytes("voice_note"))
        assert first.status_code == 503
        assert telegram.handler.messages == []

        again = await telegram.post_update(fixture_bytes("voice_note"))
        assert again.status_code == 200
        assert telegram.handler.messages[0].attachments[0].data == FILES[
            "AwACAgQAAxkBAAMUZ1voice"]


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [("edited_message", "edited_message"), ("group_message", "supergroup chat")],
)
async def test_updates_we_do_not_take_are_ignored_with_200(
    telegram: Running, caplog: pytest.LogCaptureFixture, fixture: str, reason: str
) -> None:
    with caplog.at_level(logging.INFO, logger="channels.telegram"):
        response = await telegram.post_update(fixture_bytes(fixture))

    assert response.status_code == 200
    assert telegram.handler.messages == []
    assert any("ignored" in r.getMessage() and reason in r.getMessage()
               and r.levelno == logging.INFO for r in caplog.records)


async def test_webhook_is_registered_with_the_secret_on_start(telegram: Running) -> None:
    webhook = telegram.sandbox.webhook

    assert webhook is not None
    assert webhook["url"] == telegram.base_url + "/webhooks/telegram"
    assert webhook["secret_token"] == "sandbox-secret"
    assert json.loads(webhook["allowed_updates"]) == ["message", "callback_query"]


async def test_health_says_sandbox_while_running(telegram: Running) -> None:
    assert await telegram.adapter.health() == "sandbox"
