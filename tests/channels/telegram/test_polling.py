"""Polling mode: our own getUpdates loop feeds the same path as the webhook."""

from __future__ import annotations

import asyncio
from typing import Any

from .conftest import fixture_json


async def test_polling_receives_an_update_queued_in_the_stand_in(start_adapter: Any) -> None:
    async with start_adapter(mode="polling", poll_timeout=5) as telegram:
        assert telegram.sandbox.webhook is None
        telegram.sandbox.queue_update(fixture_json("text_message"))

        await telegram.handler.wait_for(1)

        [message] = telegram.handler.messages
        assert (message.sender, message.external_id) == ("5512345678", "804512001")
        assert message.text.startswith("The people at number 12")
        assert b'"update_id": 804512001' in message.raw


async def test_polling_confirms_each_update_so_it_is_not_fetched_again(
    start_adapter: Any,
) -> None:
    async with start_adapter(mode="polling", poll_timeout=5) as telegram:
        telegram.sandbox.queue_update(fixture_json("text_message"))
        await telegram.handler.wait_for(1)

        telegram.sandbox.queue_update(fixture_json("callback_query"))
        await telegram.handler.wait_for(2)
        await asyncio.sleep(0.2)

        assert [m.external_id for m in telegram.handler.messages] == ["804512001", "804512003"]
        assert telegram.sandbox.callback_answers[0]["callback_query_id"] == "2367568912748123456"


async def test_polling_keeps_going_after_a_failed_get_updates(start_adapter: Any) -> None:
    def failing(sandbox: Any) -> None:
        sandbox.fail_next("getUpdates", error_code=502, description="Bad Gateway")

    async with start_adapter(mode="polling", poll_timeout=5, prepare=failing) as telegram:
        telegram.sandbox.queue_update(fixture_json("text_message"))

        await telegram.handler.wait_for(1)

        assert await telegram.adapter.health() == "sandbox"
