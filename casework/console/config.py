"""What the console needs to know about the landlord, as plain values (no settings import).

``ConsoleSettings`` is built once at start-up by the composition root, from the validated
settings (``console_settings``); tests build it directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from casework.context import CaseworkContext, context_from_settings
from triage.calendar import WorkingCalendar
from triage.policy import Policy

if TYPE_CHECKING:
    from intake.settings import Settings


@dataclass(frozen=True)
class AreaView:
    """A patch of homes as the console shows it: its code, name and the blocks in it."""

    code: str
    name: str
    blocks: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConsoleSettings:
    """The console's view of the configuration.

    Args:
        casework: policy, calendar, texts, team roles and the landlord's name (the same
            context the scheduled jobs use, so the console's actions match the jobs').
        areas: the team's areas, for the queue's filter and the hot-spot report.
        service_name: shown in the page titles.
        session_idle: a session unused this long ends.
        session_longest: no session lasts longer than this.
        lockout_after: wrong passwords in a row before the account is locked.
        lockout_for: how long a locked account stays locked.
        page_size: cases per queue page.
        evidence_dir: where the intake service keeps evidence files (``<data_dir>/evidence``);
            None serves none.
        failed_sign_ins_per_ip: failed sign-ins from one address before it must wait.
        failed_sign_ins_window: how far back those failures count.
    """

    casework: CaseworkContext
    areas: tuple[AreaView, ...] = ()
    service_name: str = "ASB and hate crime reporting"
    session_idle: timedelta = timedelta(minutes=30)
    session_longest: timedelta = timedelta(hours=10)
    lockout_after: int = 5
    lockout_for: timedelta = timedelta(minutes=15)
    page_size: int = 50
    evidence_dir: Path | None = None
    failed_sign_ins_per_ip: int = 20
    failed_sign_ins_window: timedelta = timedelta(minutes=15)
    area_names: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "area_names", {a.code: a.name for a in self.areas})

    @property
    def policy(self) -> Policy:
        return self.casework.policy

    @property
    def calendar(self) -> WorkingCalendar:
        return self.casework.calendar

    @property
    def landlord(self) -> str:
        return self.casework.landlord


def console_settings(settings: Settings, *, secret: str | None = None) -> ConsoleSettings:
    """The console settings the validated service settings describe.

    Args:
        settings: ``intake.settings.Settings`` (typed for checking only: casework does not
            import intake's settings at run time).
        secret: the service's secret key, to sign the one-click links in officer alerts.
    """
    return ConsoleSettings(
        casework=context_from_settings(settings, secret=secret),
        areas=tuple(AreaView(a.code, a.name, tuple(a.blocks)) for a in settings.team.areas),
        service_name=settings.service.name,
        lockout_after=settings.console.lockout_after,
        lockout_for=settings.console.lockout_for.as_timedelta(),
        evidence_dir=Path(settings.service.data_dir) / "evidence",
        failed_sign_ins_per_ip=settings.console.failed_sign_ins_per_ip,
        failed_sign_ins_window=settings.console.failed_sign_ins_window.as_timedelta(),
    )
