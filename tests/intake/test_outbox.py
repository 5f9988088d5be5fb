"""The outbox dispatcher on real databases: at-least-once delivery, grouped per step, retries
with backoff, permanent failures flagged, opt-outs honoured, leases recovered, exactly one
delivery per message across competing workers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import APIRouter
from sqlalchemy import select

from channels.base import Outgoing, SendResult
from intake.messages import Channel
from intake.outbox import DispatchPolicy, OutboxDispatcher
from storage.models import ChannelIdentity, OutboxMessage, ScheduledAction
from storage.uow import Storage

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


class RecordingChannel:
    """A channel adapter for our own contract that records sends and answers as scripted."""

    channels = (Channel.SMS,)

    def __init__(self, *results: SendResult, delay: float = 0.0) -> None:
        self.results = list(results)
        self.sent: list[Outgoing] = []
        self.delay = delay

    def router(self) -> APIRouter | None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def health(self) -> str:
        return "ok"

    async def send(self, outgoing: Outgoing) -> SendResult:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.sent.append(outgoing)
        if self.results:
            return self.results.pop(0)
        return SendResult(ok=True, external_id=f"SM{len(self.sent)}")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def queue(storage: Storage, group: str, bodies: list[str], *, address: str = "+447700900123",
                status: str = "pending", next_at: datetime = NOW) -> int:
    async with storage.unit_of_work() as uow:
        identity = await uow.people.identity("sms", address)
        for index, body in enumerate(bodies):
            await uow.outbox.enqueue(OutboxMessage(
                idempotency_key=f"{group}:{index}", channel="sms", recipient=address,
                identity_id=identity.id, body=body,
                extra={"group": group, "options": [["yes", "Yes"], ["no", "No"]] if index else [],
                       "reference": "ASB-2026-000001"},
                status=status, next_attempt_at=next_at,
            ))
        return identity.id


async def rows(storage: Storage) -> list[OutboxMessage]:
    async with storage.session() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def flags(storage: Storage) -> list[ScheduledAction]:
    async with storage.session() as session:
        return list((await session.execute(select(ScheduledAction).where(
            ScheduledAction.kind == "officer_flag"))).scalars())


async def test_replies_of_one_step_go_as_one_send_and_are_marked_sent(storage: Storage) -> None:
    await queue(storage, "reply:1", ["Thank you.", "Is anyone in danger?"])
    channel = RecordingChannel()
    dispatcher = OutboxDispatcher(storage, {Channel.SMS: channel}, Clock(), "w1")
    assert await dispatcher.run_once() == 1
    [outgoing] = channel.sent
    assert [r.text for r in outgoing.replies] == ["Thank you.", "Is anyone in danger?"]
    assert [o.value for o in outgoing.replies[1].options] == ["yes", "no"]
    assert outgoing.reference == "ASB-2026-000001"
    assert [(r.status, r.external_id) for r in await rows(storage)] == [("sent", "SM1")] * 2
    assert await dispatcher.run_once() == 0


async def test_retryable_failures_back_off_then_fail_and_flag(storage: Storage) -> None:
    await queue(storage, "reply:2", ["hello"])
    clock = Clock()
    channel = RecordingChannel(*[SendResult(ok=False, retryable=True, error="timeout")] * 5)
    dispatcher = OutboxDispatcher(storage, {Channel.SMS: channel}, clock, "w1",
                                  DispatchPolicy(max_attempts=3, first_retry=timedelta(seconds=30)))
    await dispatcher.run_once()
    [row] = await rows(storage)
    assert row.status == "pending" and row.next_attempt_at == NOW + timedelta(seconds=30)
    assert await dispatcher.run_once() == 0, "not due yet"
    clock.now += timedelta(seconds=30)
    await dispatcher.run_once()
    [row] = await rows(storage)
    assert row.next_attempt_at == clock.now + timedelta(seconds=60)
    clock.now += timedelta(seconds=60)
    await dispatcher.run_once()
    [row] = await rows(storage)
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "timeout")
    assert len(await flags(storage)) == 1


async def test_a_permanent_failure_is_flagged_to_an_officer(storage: Storage) -> None:
    await queue(storage, "reply:3", ["hello"])
    channel = RecordingChannel(SendResult(ok=False, error="invalid number"))
    await OutboxDispatcher(storage, {Channel.SMS: channel}, Clock(), "w1").run_once()
    [row] = await rows(storage)
    assert row.status == "failed" and row.last_error == "invalid number"
    [flag] = await flags(storage)
    assert flag.payload["reason"] == "a message could not be delivered"


async def test_an_opted_out_recipient_is_never_tried_again(storage: Storage) -> None:
    identity_id = await queue(storage, "reply:4", ["first"])
    channel = RecordingChannel(SendResult(ok=False, opted_out=True, error="21610"))
    dispatcher = OutboxDispatcher(storage, {Channel.SMS: channel}, Clock(), "w1")
    await dispatcher.run_once()
    async with storage.session() as session:
        identity = await session.get(ChannelIdentity, identity_id)
        assert identity is not None and identity.opted_out_at == NOW
    await queue(storage, "reply:5", ["second"])
    await dispatcher.run_once()
    assert len(channel.sent) == 1
    assert [r.status for r in await rows(storage)] == ["failed", "suppressed"]


async def test_an_abandoned_lease_is_picked_up_again(storage: Storage) -> None:
    await queue(storage, "reply:6", ["hello"], status="sending", next_at=NOW - timedelta(seconds=1))
    channel = RecordingChannel()
    await OutboxDispatcher(storage, {Channel.SMS: channel}, Clock(), "w2").run_once()
    assert len(channel.sent) == 1 and (await rows(storage))[0].status == "sent"


async def test_competing_workers_deliver_each_message_once(storage: Storage) -> None:
    for n in range(40):
        await queue(storage, f"reply:{100 + n}", [f"message {n}"], address=f"+4477009{n:05d}")
    channel = RecordingChannel(delay=0.001)
    clock = Clock()
    workers = [OutboxDispatcher(storage, {Channel.SMS: channel}, clock, f"w{i}",
                                DispatchPolicy(batch=7)) for i in range(3)]

    async def drain(worker: OutboxDispatcher) -> None:
        while await worker.run_once():
            pass

    await asyncio.gather(*(drain(w) for w in workers))
    keys = [o.key for o in channel.sent]
    assert len(keys) == len(set(keys)) == 40
    assert {r.status for r in await rows(storage)} == {"sent"}


async def test_an_adapter_that_raises_is_retried_not_lost(storage: Storage) -> None:
    class Raising(RecordingChannel):
        async def send(self, outgoing: Outgoing) -> SendResult:
            raise RuntimeError("bug")

    await queue(storage, "reply:7", ["hello"])
    await OutboxDispatcher(storage, {Channel.SMS: Raising()}, Clock(), "w1").run_once()
    [row] = await rows(storage)
    assert row.status == "pending" and row.last_error == "RuntimeError"


@pytest.mark.parametrize(("updates", "final"), [
    (["delivered"], "delivered"),
    (["delivered", "sent"], "delivered"),
    (["sent", "queued"], "sent"),
    (["undelivered"], "undelivered"),
])
async def test_delivery_callbacks_only_move_forward(storage: Storage, updates: list[str],
                                                   final: str) -> None:
    await queue(storage, "reply:8", ["hello"])
    dispatcher = OutboxDispatcher(storage, {Channel.SMS: RecordingChannel()}, Clock(), "w1")
    await dispatcher.run_once()
    for status in updates:
        await dispatcher.on_delivery(Channel.SMS, "SM1", status)
    assert (await rows(storage))[0].status == final


async def test_error_21610_in_a_callback_opts_the_number_out(storage: Storage) -> None:
    identity_id = await queue(storage, "reply:9", ["hello"])
    dispatcher = OutboxDispatcher(storage, {Channel.SMS: RecordingChannel()}, Clock(), "w1")
    await dispatcher.run_once()
    await dispatcher.on_delivery(Channel.SMS, "SM1", "undelivered", "21610")
    async with storage.session() as session:
        identity = await session.get(ChannelIdentity, identity_id)
    assert identity is not None and identity.opted_out_at is not None


