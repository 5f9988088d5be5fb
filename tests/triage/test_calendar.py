"""The working-day calendar counts deadlines the way a service standard promises them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from triage.calendar import WorkingCalendar
from triage.policy import Duration
from triage.taxonomy import Nation

LONDON = ZoneInfo("Europe/London")
ENG, SCT, NIR = Nation.ENGLAND_AND_WALES, Nation.SCOTLAND, Nation.NORTHERN_IRELAND


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("nation", "start", "target", "due", "why"),
    [
        (ENG, at(2026, 11, 20, 16, 59), "1 working day", at(2026, 11, 23, 17), "Friday 16:59 is before close"),
        (ENG, at(2026, 11, 20, 17, 1), "1 working day", at(2026, 11, 24, 17), "Friday 17:01 counts from Monday"),
        (ENG, at(2026, 11, 21, 3, 0), "1 working day", at(2026, 11, 24, 17), "3 am Saturday counts from Monday"),
        (ENG, at(2026, 11, 23, 8, 0), "1 working day", at(2026, 11, 24, 17), "before opening counts that day"),
        (ENG, at(2026, 12, 24, 10), "1 working day", at(2026, 12, 29, 17), "Christmas, Boxing Day observed"),
        (ENG, at(2026, 12, 23, 10), "5 working days", at(2027, 1, 4, 17), "across Christmas and New Year"),
        (SCT, at(2026, 12, 31, 12), "1 working day", at(2027, 1, 5, 17), "Scotland: 1 and 2 January (observed 4th)"),
        (ENG, at(2026, 12, 31, 12), "1 working day", at(2027, 1, 4, 17), "England: only 1 January"),
        (ENG, at(2027, 3, 25, 10), "1 working day", at(2027, 3, 30, 17), "Good Friday and Easter Monday"),
        (SCT, at(2027, 3, 25, 10), "1 working day", at(2027, 3, 29, 17), "no Easter Monday in Scotland"),
        (ENG, at(2026, 11, 27, 10), "1 working day", at(2026, 11, 30, 17), "St Andrew's Day is not English"),
        (SCT, at(2026, 11, 27, 10), "1 working day", at(2026, 12, 1, 17), "St Andrew's Day in Scotland"),
        (ENG, at(2026, 3, 16, 10), "1 working day", at(2026, 3, 17, 17), "St Patrick's Day is not English"),
        (NIR, at(2026, 3, 16, 10), "1 working day", at(2026, 3, 18, 17), "St Patrick's Day in Northern Ireland"),
        (NIR, at(2026, 7, 10, 10), "1 working day", at(2026, 7, 14, 17), "Boyne holiday observed on Monday 13 July"),
        (SCT, at(2026, 6, 12, 10), "1 working day", at(2026, 6, 16, 17), "Scotland's one-off 15 June 2026"),
        (ENG, at(2026, 11, 23, 10), "10 working days", at(2026, 12, 7, 17), "P3 ten working days"),
        (ENG, at(2026, 11, 20, 16), "24 hours excluding weekends and bank holidays", at(2026, 11, 23, 16), "24 h skips the weekend"),
        (ENG, at(2026, 11, 21, 10), "24 hours excluding weekends and bank holidays", at(2026, 11, 24, 0), "weekend report starts Monday 00:00"),
        (ENG, at(2026, 12, 24, 15), "24 hours excluding weekends and bank holidays", at(2026, 12, 29, 15), "24 h skips Christmas"),
        (ENG, at(2026, 11, 20, 16), "2 business hours", at(2026, 11, 23, 10), "business hours stop at 17:00"),
        (ENG, at(2026, 11, 20, 18), "2 business hours", at(2026, 11, 23, 11), "business hours start at opening"),
        (ENG, at(2026, 1, 31, 10), "1 month", at(2026, 2, 28, 10), "months clamp to the month's end"),
        (ENG, at(2026, 11, 21, 3), "30 minutes", at(2026, 11, 21, 3, 30), "minutes are elapsed time"),
    ],
)
def test_deadline(nation: Nation, start: datetime, target: str, due: datetime, why: str) -> None:
    calendar = WorkingCalendar(nation)
    assert calendar.deadline(start, Duration.parse(target)) == due, why


def test_clock_going_back_keeps_the_wall_clock_deadline() -> None:
    # Clocks go back on Sunday 25 October 2026: Friday is BST, Monday is GMT.
    calendar = WorkingCalendar(ENG)
    due = calendar.deadline(at(2026, 10, 23, 16), Duration.parse("24 hours excluding weekends and bank holidays"))
    assert (due.hour, due.minute, due.utcoffset()) == (16, 0, timedelta(0))
    assert due.date() == date(2026, 10, 26)


def test_clock_going_forward_keeps_close_of_business_at_17_00() -> None:
    # Clocks go forward on Sunday 29 March 2026.
    calendar = WorkingCalendar(ENG)
    due = calendar.deadline(at(2026, 3, 27, 12), Duration.parse("1 working day"))
    assert due == at(2026, 3, 30, 17)
    assert due.utcoffset() == timedelta(hours=1)
    assert due.astimezone(ZoneInfo("UTC")).hour == 16


def test_elapsed_hours_across_the_clock_change_are_real_hours() -> None:
    calendar = WorkingCalendar(ENG)
    due = calendar.deadline(at(2026, 10, 24, 12), Duration.parse("24 hours"))
    utc = ZoneInfo("UTC")
    assert due.astimezone(utc) - at(2026, 10, 24, 12).astimezone(utc) == timedelta(hours=24)
    assert due.hour == 11  # 24 real hours later the wall clock reads 11:00 GMT


def test_calendar_days_keep_the_wall_clock_across_the_change() -> None:
    calendar = WorkingCalendar(ENG)
    assert calendar.deadline(at(2026, 10, 24, 10), Duration.parse("7 days")) == at(2026, 10, 31, 10)


def test_times_given_in_utc_are_read_in_london_time() -> None:
    calendar = WorkingCalendar(ENG)
    # 16:30 UTC in summer is 17:30 BST: after close, so it counts from Monday.
    friday = datetime(2026, 7, 17, 16, 30, tzinfo=ZoneInfo("UTC"))
    assert calendar.deadline(friday, Duration.parse("1 working day")) == at(2026, 7, 21, 17)


@pytest.mark.parametrize(
    ("nation", "day", "working"),
    [
        (ENG, date(2026, 12, 28), False),
        (ENG, date(2026, 11, 30), True),
        (SCT, date(2026, 11, 30), False),
        (NIR, date(2026, 3, 17), False),
        (ENG, date(2026, 8, 3), True),
        (SCT, date(2026, 8, 3), False),
        (ENG, date(2026, 8, 31), False),
        (SCT, date(2026, 8, 31), True),
        (ENG, date(2026, 11, 21), False),
    ],
)
def test_working_days(nation: Nation, day: date, working: bool) -> None:
    assert WorkingCalendar(nation).is_working_day(day) is working


def test_holiday_names_come_from_the_holidays_package() -> None:
    name = WorkingCalendar(ENG).holiday_name(date(2026, 12, 28))
    assert name is not None and "Boxing Day" in name


def test_office_hours() -> None:
    calendar = WorkingCalendar(ENG)
    assert calendar.is_open(at(2026, 11, 20, 16, 59))
    assert not calendar.is_open(at(2026, 11, 20, 17, 0))
    assert calendar.next_opening(at(2026, 11, 20, 17, 1)) == at(2026, 11, 23, 9)
    assert calendar.next_opening(at(2026, 12, 24, 18)) == at(2026, 12, 29, 9)


def test_working_days_between_counts_only_working_days() -> None:
    calendar = WorkingCalendar(ENG)
    assert calendar.working_days_between(date(2026, 12, 24), date(2026, 12, 31)) == 3


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        WorkingCalendar(ENG).deadline(datetime(2026, 11, 20, 10), Duration.parse("1 working day"))


def test_reminders_count_backwards_in_elapsed_time_only() -> None:
    calendar = WorkingCalendar(ENG)
    assert calendar.before(at(2026, 11, 23, 17), Duration.parse("2 hours")) == at(2026, 11, 23, 15)
    with pytest.raises(ValueError, match="cannot be counted backwards"):
        calendar.before(at(2026, 11, 23, 17), Duration.parse("1 working day"))
