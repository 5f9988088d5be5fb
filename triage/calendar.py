"""The working-day calendar: deadlines the way a service standard counts them.

Bank holidays come from the ``holidays`` package's UK subdivisions, never from a hand-typed
list, so observed days (Boxing Day on a Monday) and one-offs (a Scottish holiday for a World Cup
final) are right without code changes.

Rules, as officers read a standard:

* A report that arrives while the office is closed (evening, weekend, bank holiday) counts as
  received at the next opening.
* "N working days" ends at close of business on the Nth working day after the day the report
  counts as received: Friday 16:59 + 1 working day is Monday 17:00, but Friday 17:01 is
  received on Monday, so its deadline is Tuesday 17:00.
* "N hours excluding weekends and bank holidays" runs the clock only on working days, whole
  days, whatever the office hours.
* "N business hours" runs the clock only while the office is open.
* Plain hours and minutes are elapsed time; days and months are calendar days and months at the
  same wall-clock time.

All arithmetic on wall-clock time is done in the policy's zone (Europe/London by default), so
the clock changes never move a 17:00 deadline to 16:00 or 18:00.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from triage.policy import BusinessHours, Duration, DurationUnit, Policy
from triage.taxonomy import NATION_SUBDIVISION, Nation

_MAX_DAYS_SEARCHED = 3660  # ten years: a calendar with no working days fails loudly, not forever


@lru_cache(maxsize=8)
def _bank_holidays(nation: Nation) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv=NATION_SUBDIVISION[nation])


class WorkingCalendar:
    """Working days, opening hours and deadlines for one landlord's nation and office.

    Args:
        nation: whose bank holidays are non-working days.
        zone: the local time zone the standard is written in.
        business_hours: when the office is open.
    """

    def __init__(
        self,
        nation: Nation,
        zone: ZoneInfo | str = "Europe/London",
        business_hours: BusinessHours | None = None,
    ) -> None:
        self.nation = nation
        self.zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        self.hours = business_hours or BusinessHours()
        self._open_days = self.hours.weekday_numbers
        self._holidays = _bank_holidays(nation)

    @classmethod
    def from_policy(cls, policy: Policy) -> WorkingCalendar:
        """The calendar a policy describes (nation, zone and business hours)."""
        return cls(policy.nation, policy.zone, policy.business_hours)

    # --- days -----------------------------------------------------------------------------

    def holiday_name(self, day: date) -> str | None:
        """The bank holiday on ``day`` in this nation, or ``None``."""
        name = self._holidays.get(day)
        return str(name) if name else None

    def is_working_day(self, day: date) -> bool:
        """True if the office opens on ``day``: an open weekday that is not a bank holiday."""
        return day.weekday() in self._open_days and day not in self._holidays

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        return next(self._working_days_from(day + timedelta(days=1)))

    def working_days_after(self, day: date, n: int) -> date:
        """The Nth working day after ``day`` (``n`` >= 1); ``day`` itself never counts."""
        if n < 1:
            raise ValueError("n must be at least 1")
        found = self._working_days_from(day + timedelta(days=1))
        for _ in range(n - 1):
            next(found)
        return next(found)

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days fall after ``start`` up to and including ``end``."""
        if end <= start:
            return 0
        return sum(
            1
            for i in range(1, (end - start).days + 1)
            if self.is_working_day(start + timedelta(days=i))
        )

    def _working_days_from(self, day: date) -> Iterator[date]:
        for i in range(_MAX_DAYS_SEARCHED):
            candidate = day + timedelta(days=i)
            if self.is_working_day(candidate):
                yield candidate
        raise ValueError("no working day within ten years: check business_hours.days")

    # --- instants -------------------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the calendar's zone. Naive datetimes are refused, not guessed."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("datetimes must carry a time zone")
        return moment.astimezone(self.zone)

    def _at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.zone)

    def is_open(self, moment: datetime) -> bool:
        """True while the office is open at ``moment``."""
        here = self.local(moment)
        return (
            self.is_working_day(here.date()) and self.hours.opens <= here.time() < self.hours.closes
        )

    def received_at(self, moment: datetime) -> datetime:
        """When a report made at ``moment`` counts as received: now if open, else next opening."""
        here = self.local(moment)
        if self.is_working_day(here.date()) and here.time() < self.hours.closes:
            if here.time() < self.hours.opens:
                return self._at(here.date(), self.hours.opens)
            return here
        return self._at(self.next_working_day(here.date()), self.hours.opens)

    def next_opening(self, moment: datetime) -> datetime:
        """``moment`` itself if the office is open, otherwise the next time it opens."""
        return self.received_at(moment)

    # --- deadlines ------------------------------------------------------------------------

    def deadline(self, start: datetime, duration: Duration) -> datetime:
        """When something started at ``start`` falls due, counted as ``duration`` says."""
        handler = _DEADLINE_BY_UNIT[duration.unit]
        return handler(self, start, duration.amount)

    def _working_days(self, start: datetime, n: int) -> datetime:
        received = self.received_at(start)
        return self._at(self.working_days_after(received.date(), n), self.hours.closes)

    def _hours_excluding_non_working_days(self, start: datetime, n: int) -> datetime:
        here = self.local(start)
        remaining = timedelta(hours=n)
        day = here.date()
        clock: datetime | None = here.replace(tzinfo=None)  # wall clock on a working day
        if not self.is_working_day(day):
            day, clock = self.next_working_day(day), None
        while True:
            begin = clock or datetime.combine(day, time(0))
            left_today = datetime.combine(day + timedelta(days=1), time(0)) - begin
            if remaining <= left_today:
                return (begin + remaining).replace(tzinfo=self.zone)
            remaining -= left_today
            day, clock = self.next_working_day(day), None

    def _business_hours(self, start: datetime, n: int) -> datetime:
        here = self.received_at(start)
        remaining = timedelta(hours=n)
        day = here.date()
        begin = here.replace(tzinfo=None)
        while True:
            close = datetime.combine(day, self.hours.closes)
            if remaining <= close - begin:
                return (begin + remaining).replace(tzinfo=self.zone)
            remaining -= close - begin
            day = self.next_working_day(day)
            begin = datetime.combine(day, self.hours.opens)

    def _elapsed_hours(self, start: datetime, n: int) -> datetime:
        return self._elapsed(start, timedelta(hours=n))

    def _elapsed_minutes(self, start: datetime, n: int) -> datetime:
        return self._elapsed(start, timedelta(minutes=n))

    def _elapsed(self, start: datetime, delta: timedelta) -> datetime:
        # Aware arithmetic within one zone is wall-clock arithmetic in Python; real elapsed
        # time has to be added in UTC.
        return self.local(self.local(start).astimezone(UTC) + delta)

    def _calendar_days(self, start: datetime, n: int) -> datetime:
        here = self.local(start)
        wall = here.replace(tzinfo=None) + timedelta(days=n)
        return wall.replace(tzinfo=self.zone)

    def _calendar_months(self, start: datetime, n: int) -> datetime:
        here = self.local(start)
        month_index = here.month - 1 + n
        year, month = here.year + month_index // 12, month_index % 12 + 1
        day = min(here.day, _stdlib_calendar.monthrange(year, month)[1])
        return here.replace(year=year, month=month, day=day, tzinfo=None).replace(tzinfo=self.zone)

    def before(self, moment: datetime, duration: Duration) -> datetime:
        """``moment`` minus ``duration`` in elapsed time or calendar months (a reminder, or
        the start of a look-back window such as "12 months")."""
        if duration.unit is DurationUnit.MONTHS:
            return self._calendar_months(moment, -duration.amount)
        try:
            delta = duration.as_timedelta()
        except ValueError:
            raise ValueError(
                f"'{duration}' cannot be counted backwards; use minutes, hours, days or months"
            ) from None
        return self._elapsed(moment, -delta)


_DEADLINE_BY_UNIT = {
    DurationUnit.WORKING_DAYS: WorkingCalendar._working_days,
    DurationUnit.HOURS_EXCLUDING_NON_WORKING_DAYS: (
        WorkingCalendar._hours_excluding_non_working_days
    ),
    DurationUnit.BUSINESS_HOURS: WorkingCalendar._business_hours,
    DurationUnit.HOURS: WorkingCalendar._elapsed_hours,
    DurationUnit.MINUTES: WorkingCalendar._elapsed_minutes,
    DurationUnit.DAYS: WorkingCalendar._calendar_days,
    DurationUnit.MONTHS: WorkingCalendar._calendar_months,
}
