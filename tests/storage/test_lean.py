"""Hot statements run on the driver (storage/lean.py) store and read exactly what the ORM does,
inside the unit of work's transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, bindparam, select

from storage import lean
from storage.models import ChannelIdentity, Conversation, InboundMessage, OutboxMessage, Person
from storage.uow import Storage

NOW = datetime(2026, 11, 22, 3, 5, 9, 123456, tzinfo=UTC)
_PEOPLE = cast(Table, Person.__table__)
_INBOUND = cast(Table, InboundMessage.__table__)


async def _identity(storage: Storage, address: str = "+447700900123") -> ChannelIdentity:
    async with storage.unit_of_work() as uow:
        return await uow.people.identity("sms", address)


async def test_values_of_every_type_come_back_as_the_orm_reads_them(storage: Storage) -> None:
    identity = await _identity(storage)
    state: dict[str, Any] = {"step": "danger", "answers": {"hate": True, "note": "café ✓"}}
    async with storage.unit_of_work() as uow:
        conversation = Conversation(identity_id=identity.id, state=state, updated_at=NOW)
        await uow.conversations.save(conversation)  # JSON, timestamps with a zone, ints
        await uow.inbound.record("sms", "SM-types", b"\x00raw\xffbytes", sender="+447700900123")
    async with storage.session() as session:
        stored = (await session.execute(select(Conversation))).scalar_one()
        message = (await session.execute(select(InboundMessage))).scalar_one()
    assert stored.state == state
    assert stored.updated_at == NOW and stored.version == 1
    assert message.payload == b"\x00raw\xffbytes" and message.status == "received"
    assert message.received_at.tzinfo is not None
    async with storage.unit_of_work() as uow:  # and lean reads give the same values back
        again = await uow.conversations.for_identity(identity.id)
    assert again is not None
    assert (again.state, again.updated_at, again.version) == (state, NOW, 1)


async def test_columns_left_out_get_the_models_python_defaults(storage: Storage) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    async with storage.unit_of_work() as uow:
        queued = await uow.outbox.enqueue(
            OutboxMessage(idempotency_key="k1", channel="sms", recipient="+447700900123",
                          body="Your reference is ASB-2026-000001.")
        )
    assert queued
    async with storage.session() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
    assert (row.status, row.attempts, row.extra) == ("pending", 0, {})
    assert row.next_attempt_at >= before and row.created_at >= before


async def test_a_rolled_back_unit_of_work_leaves_nothing(storage: Storage) -> None:
    """The driver-level statements are in the session's transaction (on PostgreSQL the lean
    statement may be the first: the adapter's BEGIN must come before it)."""
    with pytest.raises(RuntimeError):
        async with storage.unit_of_work() as uow:
            await uow.inbound.record("sms", "SM-rolled-back", b"raw")
            await uow.people.identity("sms", "+447700900999")
            raise RuntimeError("the step failed")
    async with storage.session() as session:
        assert (await session.execute(select(InboundMessage))).first() is None
        assert (await session.execute(select(Person))).first() is None


async def test_after_a_commit_the_next_transaction_is_its_own(storage: Storage) -> None:
    """A unit of work that commits part-way: what follows is a new transaction (a commit may
    hand the session another pooled connection; the lean path must follow)."""
    with pytest.raises(RuntimeError):
        async with storage.unit_of_work() as uow:
            await uow.inbound.record("sms", "SM-kept", b"raw")
            await uow.commit()
            await uow.inbound.record("sms", "SM-dropped", b"raw")
            raise RuntimeError("failed after the commit")
    async with storage.session() as session:
        ids = (await session.execute(select(InboundMessage.external_id))).scalars().all()
    assert ids == ["SM-kept"]


async def test_lean_and_orm_statements_share_one_transaction(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        rows = await lean.run(
            uow.session, "test.person", lambda _: _PEOPLE.insert().returning(_PEOPLE.c.id),
            {"created_at": NOW},
        )
        person = await uow.session.get(Person, rows[0][0])  # the ORM sees the lean insert
        assert person is not None and person.created_at == NOW


async def test_statements_that_cannot_be_fixed_are_refused(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        with pytest.raises(ValueError, match="fixed positional"):
            await lean.run(
                uow.session,
                "test.expanding",
                lambda _: select(_INBOUND.c.id).where(
                    _INBOUND.c.external_id.in_(bindparam("ids", expanding=True))
                ),
                {"ids": ["a", "b"]},
            )


async def test_after_a_failed_flush_lean_statements_refuse_as_the_orm_does(
    storage: Storage,
) -> None:
    """A flush that failed leaves the session's transaction inactive (SQLAlchemy raises until
    it is rolled back); a lean statement must not slip past it and write on its own."""
    from sqlalchemy.exc import IntegrityError, PendingRollbackError

    def message(key: str) -> OutboxMessage:
        return OutboxMessage(idempotency_key=key, channel="sms", recipient="+447700900123",
                             body="x")

    with pytest.raises(PendingRollbackError):
        async with storage.unit_of_work() as uow:
            await uow.inbound.record("sms", "SM-before", b"raw")  # the lean path is cached
            uow.session.add_all([message("same"), message("same")])
            with pytest.raises(IntegrityError):
                await uow.session.flush()
            await uow.inbound.record("sms", "SM-after-failed-flush", b"raw")
    async with storage.session() as session:
        assert (await session.execute(select(InboundMessage))).first() is None
