"""The composition root: one place that wires settings into storage and services.

Nothing here runs at import time; callers build what they need from validated settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from casework.allocation import OfficerOnRota
from casework.intake_rules import CaseworkRules
from intake.service import IntakeService
from intake.settings import Settings, TeamSettings
from storage.migrate import upgrade
from storage.models import Officer
from storage.uow import Storage
from triage.calendar import WorkingCalendar

log = logging.getLogger(__name__)


def build_storage(settings: Settings, *, long_running: bool = False) -> Storage:
    """Storage for the configured database; ``long_running`` (``intake serve``): SQLite's log
    is checkpointed off the event loop (storage/checkpoint.py)."""
    database = settings.database
    return Storage.from_url(
        database.sqlalchemy_url(),
        echo=database.echo,
        pool_size=database.pool_size,
        background_checkpoints=long_running,
    )


def build_case_rules(settings: Settings) -> CaseworkRules:
    """Casework's rules for new cases (allocation, area and block, follow-ups)."""
    team = settings.team
    return CaseworkRules(
        [OfficerOnRota(o.id, o.name, o.role, o.areas, o.max_open_cases) for o in team.officers],
        team.on_call,
        {a.code: ((*a.postcodes, *a.blocks), a.blocks) for a in team.areas},
        settings.policy,
        build_calendar(settings),
    )


def build_service(
    settings: Settings, storage: Storage, clock: Callable[[], datetime] | None = None
) -> IntakeService:
    """The intake service over ``storage``."""
    return IntakeService(storage, settings, clock=clock, rules=build_case_rules(settings))


def build_calendar(settings: Settings) -> WorkingCalendar:
    """The working-day calendar the policy describes."""
    return WorkingCalendar.from_policy(settings.policy)


async def migrate(settings: Settings) -> None:
    """Bring the database schema up to date (Alembic runs in a thread: it blocks)."""
    await asyncio.to_thread(upgrade, settings.database.sqlalchemy_url())


async def sync_team(storage: Storage, team: TeamSettings) -> int:
    """Mirror the config's officers into the database; officers left out are deactivated."""
    configured = {officer.id for officer in team.officers}
    async with storage.unit_of_work() as uow:
        for officer in team.officers:
            existing = await uow.officers.get(officer.id)
            row = existing or Officer(id=officer.id)
            row.name, row.role, row.alert_by = officer.name, officer.role, officer.alert_by
            row.email, row.phone = officer.email, officer.phone
            row.telegram_chat_id, row.areas, row.active = (
                officer.telegram_chat_id,
                list(officer.areas),
                True,
            )
            await uow.officers.upsert(row)
        for row in await uow.officers.all():
            if row.id not in configured and row.active and not row.console_only:
                row.active = False
    log.info("team synchronised: %d officers", len(configured))
    return len(configured)
