"""The outbox dispatcher: every outgoing message, delivered at least once, never twice on purpose.

Rows are claimed with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so several
``intake serve`` processes can share one database. A claimed row's ``next_attempt_at`` is the
lease's end: if the process dies mid-send, the row is claimed again after the lease (at least
once). The vendor call happens outside any transaction. Retryable failures back off
exponentially; permanent ones, and rows that run out of attempts, are flagged to an officer.
Delivery callbacks only ever move a message's state forward.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.base import ChannelAdapter, Outgoing, SendResult
from intake.messages import Channel, Option, Reply
from storage.models import ChannelIdentity, OutboxMessage
from storage.uow import Storage

log = logging.getLogger(__name__)

DELIVERY_ORDER = {
    "pending": 0,
    "sending": 1,
    "queued": 2,
    "sent": 3,
    "delivered": 4,
    "read": 5,
    "undelivered": 6,
    "failed": 6,
}
"""How far along a message is; callbacks never move it backwards."""


@dataclass(frozen=True)
class DispatchPolicy:
    """How hard the dispatcher tries."""

    batch: int = 50
    lease: timedelta = timedelta(minutes=5)
    first_retry: timedelta = timedelta(seconds=30)
    longest_wait: timedelta = timedelta(hours=1)
    max_attempts: int = 10


class OutboxDispatcher:
    """Claims due outbox rows, hands each group to its channel adapter and records the result.

    Args:
        storage: the database.
        adapters: the enabled channel adapters, by channel.
        clock: the time now.
        worker: this process's name, recorded on claimed rows.
    """

    def __init__(
        self,
        storage: Storage,
        adapters: Mapping[Channel, ChannelAdapter],
        clock: Callable[[], datetime],
        worker: str,
        policy: DispatchPolicy | None = None,
    ) -> None:
        self.storage = storage
        self.adapters = dict(adapters)
        self.clock = clock
        self.worker = worker
        self.policy = policy or DispatchPolicy()
        self.wake = asyncio.Event()
        self.sent = 0
        self.failed = 0

    async def run_once(self) -> int:
        """Deliver what is due now. Returns how many groups were attempted."""
        now = self.clock()
        async with self.storage.unit_of_work() as uow:
            rows = await uow.outbox.claim(
                now, self.worker, self.policy.batch, lease=self.policy.lease
            )
            opted_out = await self._opted_out(uow.session, rows)
        groups: dict[str, list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            groups[str(row.extra.get("group") or row.idempotency_key)].append(row)
        for key, members in groups.items():
            await self._deliver(key, sorted(members, key=lambda r: r.id), opted_out)
        return len(groups)

    async def run(self, stop: asyncio.Event, idle_wait: float = 1.0) -> None:
        """Keep delivering until ``stop`` is set; wakes early when ``wake`` is set."""
        while not stop.is_set():
            try:
                attempted = await self.run_once()
            except Exception:  # the loop must survive a database blip; rows stay leased
                log.exception("outbox dispatch round failed; retrying")
                attempted = 0
            if attempted:
                continue
            self.wake.clear()
            waiters = {asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())}
            _, pending = await asyncio.wait(
                waiters, timeout=idle_wait, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in pending:
                waiter.cancel()

    @staticmethod
    async def _opted_out(session: AsyncSession, rows: Sequence[OutboxMessage]) -> set[int]:
        identity_ids = {r.identity_id for r in rows if r.identity_id is not None}
        if not identity_ids:
            return set()
        result = await session.execute(
            select(ChannelIdentity.id).where(
                ChannelIdentity.id.in_(identity_ids), ChannelIdentity.opted_out_at.is_not(None)
            )
        )
        return set(result.scalars())

    async def _deliver(self, key: str, rows: list[OutboxMessage], opted_out: set[int]) -> None:
        first = rows[0]
        channel = Channel(first.channel)
        if first.identity_id in opted_out:
            await self._record(rows, status="suppressed", error="recipient opted out")
            return
        adapter = self.adapters.get(channel)
        if adapter is None:
            await self._record(
                rows, status="failed", error=f"channel {channel.value} is not enabled", flag=True
            )
            return
        outgoing = Outgoing(
            key=key,
            channel=channel,
            recipient=first.recipient,
            replies=tuple(_reply(row) for row in rows),
            reference=first.extra.get("reference"),
            context=dict(first.extra.get("context") or {}),
            subject=first.extra.get("subject"),
        )
        try:
            result = await adapter.send(outgoing)
        except Exception as exc:  # an adapter bug must not lose the message: retry it
            log.exception("%s adapter raised while sending", channel.value)
            result = SendResult(ok=False, retryable=True, error=type(exc).__name__)
        if result.ok:
            await self._record(rows, status="sent", external_id=result.external_id)
            self.sent += len(rows)
        elif result.opted_out:
            await self._record(
                rows, status="failed", error=result.error or "opted out", opt_out=True
            )
        elif result.retryable and first.attempts < self.policy.max_attempts:
            wait = min(
                self.policy.first_retry * (2 ** (first.attempts - 1)), self.policy.longest_wait
            )
            await self._record(rows, status="pending", error=result.error, retry_in=wait)
        else:
            await self._record(rows, status="failed", error=result.error or "failed", flag=True)
            self.failed += len(rows)

    async def _record(
        self,
        rows: list[OutboxMessage],
        *,
        status: str,
        error: str | None = None,
        external_id: str | None = None,
        retry_in: timedelta | None = None,
        flag: bool = False,
        opt_out: bool = False,
    ) -> None:
        now = self.clock()
        async with self.storage.unit_of_work() as uow:
            for row in rows:
                stored = await uow.session.get(OutboxMessage, row.id)
                if stored is None or stored.claimed_by != self.worker:
                    continue  # our lease ran out and another worker has it now
                stored.status = status
                stored.last_error = error
                if external_id is not None:
                    stored.external_id = external_id
                if status == "sent":
                    stored.sent_at = now
                stored.next_attempt_at = now + retry_in if retry_in else now
            first = rows[0]
            if opt_out and first.identity_id is not None:
                identity = await uow.session.get(ChannelIdentity, first.identity_id)
                if identity is not None and identity.opted_out_at is None:
                    identity.opted_out_at = now
            if flag:
                await uow.actions.schedule(
                    "officer_flag",
                    now,
                    case_id=first.case_id,
                    dedupe_key=f"outbox-failed:{first.id}",
                    payload={
                        "reason": "a message could not be delivered",
                        "channel": first.channel,
                        "error": error or "",
                    },
                )
        log.info(
            "outbox %s: %d message(s) on %s%s",
            status,
            len(rows),
            rows[0].channel,
            f" ({error})" if error else "",
        )

    async def on_delivery(
        self, channel: Channel, external_id: str, status: str, error_code: str | None = None
    ) -> None:
        """A delivery callback: move the message forward, never back; 21610 opts the number out."""
        async with self.storage.unit_of_work() as uow:
            result = await uow.session.execute(
                select(OutboxMessage).where(
                    OutboxMessage.channel == channel.value, OutboxMessage.external_id == external_id
                )
            )
            for row in result.scalars():
                if DELIVERY_ORDER.get(status, -1) > DELIVERY_ORDER.get(row.status, -1):
                    row.status = status
                    if error_code:
                        row.last_error = f"error {error_code}"
                if error_code == "21610" and row.identity_id is not None:
                    identity = await uow.session.get(ChannelIdentity, row.identity_id)
                    if identity is not None and identity.opted_out_at is None:
                        identity.opted_out_at = self.clock()


def _reply(row: OutboxMessage) -> Reply:
    extra = row.extra or {}
    return Reply(
        row.body,
        options=tuple(Option(str(v), str(label)) for v, label in extra.get("options", [])),
        multiple=bool(extra.get("multiple")),
        question_id=extra.get("question_id"),
        urgent=bool(extra.get("urgent")),
    )
