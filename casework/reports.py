"""Monthly performance against the service standard (R-16), counted by the database.

Every figure is one aggregate query (``GROUP BY`` with conditional sums), never a loop over
cases in Python, so a month over a million cases costs a few scans on PostgreSQL. Months are
the landlord's calendar months (policy time zone), whatever the stored UTC times.

The measures:

* ASB cases and hate cases opened per 1,000 homes: the Regulator of Social Housing's tenant
  satisfaction measures NM01(1) and NM01(2), for one month. Reports of everyday living that are
  not ASB (R-15) and incomplete drafts are left out; hate cases are also ASB cases.
* First responses within target, by priority: of the cases received in the month whose
  first-contact deadline has passed or whose first contact is recorded, the share contacted by
  the deadline (the deadline is the policy's target for the priority, in working days).
* Median time to first contact, by priority and overall (hours, clock time).
* Open cases by age, as at the end of the month (or now, for the month in progress).
* Satisfaction (TP12-style): of the surveys answered in the month, the share very or fairly
  satisfied (1 or 2 on the five-point scale).
* Hot spots: cases by area, and by block where the block is known.
* The last twelve months of the headline figures, for the trend charts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, SurveyResponse
from storage.uow import Storage
from triage.policy import Policy
from triage.taxonomy import Priority

AGE_BANDS: tuple[tuple[str, int | None], ...] = (
    ("0-7 days", 7),
    ("8-28 days", 28),
    ("29-60 days", 60),
    ("61-90 days", 90),
    ("over 90 days", None),
)
"""Open cases by age: each band's label and its upper bound in days (None: no bound)."""
TREND_MONTHS = 12
SATISFIED = (1, 2)
"""TP12: very or fairly satisfied."""
TOP_BLOCKS = 10
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ResponseTimes:
    """First responses for one priority (or ``all``)."""

    priority: str
    received: int
    due: int
    """Cases whose deadline has passed or whose first contact is recorded."""
    on_time: int
    share_on_time: float | None
    median_hours_to_first_contact: float | None


@dataclass(frozen=True)
class Satisfaction:
    """Survey answers in the month (TP12-style)."""

    answered: int
    satisfied: int
    share_satisfied: float | None
    by_score: dict[int, int]


@dataclass(frozen=True)
class HotSpot:
    """Cases in one place."""

    area: str | None
    name: str
    block: str | None
    cases: int
    hate_cases: int


@dataclass(frozen=True)
class MonthFigures:
    """One month's headline figures, for the trend."""

    month: str
    asb_cases: int
    hate_cases: int
    asb_per_1000_homes: float
    hate_per_1000_homes: float
    due: int
    on_time: int
    share_on_time: float | None


@dataclass(frozen=True)
class MonthlyReport:
    """Performance against the standard for one month (R-16)."""

    month: str
    homes: int
    as_of: datetime
    asb_cases: int
    hate_cases: int
    not_asb_reports: int
    asb_per_1000_homes: float
    """NM01(1)."""
    hate_per_1000_homes: float
    """NM01(2)."""
    first_response: list[ResponseTimes]
    open_by_age: list[tuple[str, int]]
    satisfaction: Satisfaction
    areas: list[HotSpot]
    blocks: list[HotSpot]
    trend: list[MonthFigures] = field(default_factory=list)

    @property
    def open_cases(self) -> int:
        return sum(count for _, count in self.open_by_age)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["open_cases"] = self.open_cases
        data["open_by_age"] = [{"age": band, "cases": n} for band, n in self.open_by_age]
        data["satisfaction"]["by_score"] = {
            str(k): v for k, v in self.satisfaction.by_score.items()
        }
        return data

    def rows(self) -> list[tuple[str, str, str, str]]:
        """The report as (month, measure, group, value) rows: one figure per row."""
        m = self.month
        rows: list[tuple[str, str, str, str]] = [
            (m, "homes", "", str(self.homes)),
            (m, "asb_cases", "", str(self.asb_cases)),
            (m, "hate_cases", "", str(self.hate_cases)),
            (m, "not_asb_reports", "", str(self.not_asb_reports)),
            (m, "asb_cases_per_1000_homes_nm01_1", "", _number(self.asb_per_1000_homes)),
            (m, "hate_cases_per_1000_homes_nm01_2", "", _number(self.hate_per_1000_homes)),
        ]
        for times in self.first_response:
            p = times.priority
            rows += [
                (m, "first_response_due", p, str(times.due)),
                (m, "first_response_on_time", p, str(times.on_time)),
                (m, "first_response_share_on_time", p, _number(times.share_on_time)),
                (
                    m,
                    "median_hours_to_first_contact",
                    p,
                    _number(times.median_hours_to_first_contact),
                ),
            ]
        rows += [(m, "open_cases_by_age", band, str(n)) for band, n in self.open_by_age]
        rows.append((m, "open_cases", "", str(self.open_cases)))
        s = self.satisfaction
        rows += [
            (m, "surveys_answered", "", str(s.answered)),
            (m, "surveys_satisfied", "", str(s.satisfied)),
            (m, "share_satisfied_tp12", "", _number(s.share_satisfied)),
        ]
        rows += [(m, "survey_score", str(k), str(v)) for k, v in s.by_score.items()]
        rows += [(m, "cases_by_area", spot.name, str(spot.cases)) for spot in self.areas]
        rows += [(m, "hate_cases_by_area", spot.name, str(spot.hate_cases)) for spot in self.areas]
        rows += [
            (m, "cases_by_block", f"{spot.name} / {spot.block}", str(spot.cases))
            for spot in self.blocks
        ]
        for point in self.trend:
            rows += [
                (
                    point.month,
                    "trend_asb_cases_per_1000_homes",
                    "",
                    _number(point.asb_per_1000_homes),
                ),
                (
                    point.month,
                    "trend_hate_cases_per_1000_homes",
                    "",
                    _number(point.hate_per_1000_homes),
                ),
                (
                    point.month,
                    "trend_first_response_share_on_time",
                    "",
                    _number(point.share_on_time),
                ),
            ]
        return rows

    def as_csv(self) -> str:
        """The report as CSV (month, measure, group, value), safe to open in a spreadsheet."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(("month", "measure", "group", "value"))
        for row in self.rows():
            writer.writerow(tuple(_cell(value) for value in row))
        return out.getvalue()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}".rstrip("0").rstrip(".")


def _cell(value: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: keep it text.
    if value.startswith(_CSV_FORMULA_START) and not _is_number(value):
        return "'" + value
    return value


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def parse_month(value: str) -> date:
    """``YYYY-MM`` as the first day of that month.

    Raises:
        ValueError: not a month written as YYYY-MM.
    """
    try:
        parsed = datetime.strptime(value.strip(), "%Y-%m").date()
    except ValueError:
        raise ValueError(f"{value!r} is not a month written as YYYY-MM") from None
    if not 2000 <= parsed.year <= 2200:
        raise ValueError(f"{value!r} is not a month this service could have figures for")
    return parsed


def month_start(first: date, zone: ZoneInfo, shift: int = 0) -> datetime:
    """Midnight at the start of the month ``shift`` months after ``first``, local time."""
    index = first.year * 12 + first.month - 1 + shift
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=zone)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _per_thousand(count: int, homes: int) -> float:
    return round(count * 1000 / homes, 3)


async def monthly_report(
    storage: Storage,
    month: date,
    *,
    policy: Policy,
    now: datetime,
    area_names: Mapping[str, str] | None = None,
    trend_months: int = TREND_MONTHS,
) -> MonthlyReport:
    """The performance report for the month holding ``month``.

    Args:
        storage: the database.
        month: any day of the month (usually its first).
        policy: the landlord's policy (homes, time zone).
        now: the time now (open cases of the month in progress are counted as of now).
        area_names: area codes to names, for the hot spots.
        trend_months: how many months the trend covers, ending with this one.
    """
    zone = policy.zone
    first = month.replace(day=1)
    start, end = month_start(first, zone), month_start(first, zone, 1)
    as_of = min(end, now)
    names = dict(area_names or {})
    homes = policy.performance.homes
    async with storage.session() as session:
        by_priority = await _month_by_priority(session, start, end, as_of)
        medians = await _median_hours(session, start, end)
        open_by_age = await _open_by_age(session, as_of)
        satisfaction = await _satisfaction(session, start, end)
        areas, blocks = await _hot_spots(session, start, end, names)
        trend = await _trend(session, first, zone, trend_months, homes, now)
    asb = sum(row["asb"] for row in by_priority.values())
    hate = sum(row["hate"] for row in by_priority.values())
    responses: list[ResponseTimes] = []
    for priority in [*(p.value for p in Priority), "all"]:
        if priority == "all":
            counts = {
                key: sum(row[key] for row in by_priority.values())
                for key in ("received", "due", "on_time")
            }
        else:
            counts = by_priority.get(priority, {"received": 0, "due": 0, "on_time": 0})
        responses.append(
            ResponseTimes(
                priority=priority,
                received=counts["received"],
                due=counts["due"],
                on_time=counts["on_time"],
                share_on_time=_share(counts["on_time"], counts["due"]),
                median_hours_to_first_contact=medians.get(priority),
            )
        )
    return MonthlyReport(
        month=f"{first:%Y-%m}",
        homes=homes,
        as_of=as_of,
        asb_cases=asb,
        hate_cases=hate,
        not_asb_reports=sum(row["not_asb"] for row in by_priority.values()),
        asb_per_1000_homes=_per_thousand(asb, homes),
        hate_per_1000_homes=_per_thousand(hate, homes),
        first_response=responses,
        open_by_age=open_by_age,
        satisfaction=satisfaction,
        areas=areas,
        blocks=blocks,
        trend=trend,
    )


def _flag(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _received(start: datetime, end: datetime) -> Any:
    return and_(Case.received_at >= start, Case.received_at < end, Case.status != "draft")


def _due(as_of: datetime) -> Any:
    return and_(
        Case.deadline_at.is_not(None),
        (Case.first_contact_at.is_not(None)) | (Case.deadline_at <= as_of),
    )


def _on_time() -> Any:
    return and_(
        Case.first_contact_at.is_not(None),
        Case.deadline_at.is_not(None),
        Case.first_contact_at <= Case.deadline_at,
    )


async def _month_by_priority(
    session: AsyncSession, start: datetime, end: datetime, as_of: datetime
) -> dict[str, dict[str, int]]:
    asb = Case.not_asb.is_(False)
    query = (
        select(
            Case.priority,
            func.count(),
            _flag(asb),
            _flag(and_(asb, Case.hate.is_(True))),
            _flag(Case.not_asb.is_(True)),
            _flag(_due(as_of)),
            _flag(_on_time()),
        )
        .where(_received(start, end))
        .group_by(Case.priority)
    )
    found: dict[str, dict[str, int]] = {}
    for priority, received, asb_n, hate_n, not_asb_n, due_n, on_time_n in (
        await session.execute(query)
    ).all():
        found[str(priority)] = {
            "received": int(received),
            "asb": int(asb_n),
            "hate": int(hate_n),
            "not_asb": int(not_asb_n),
            "due": int(due_n),
            "on_time": int(on_time_n),
        }
    return found


def _hours_between(session: AsyncSession, later: Any, earlier: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier) / 3600.0
    return (func.julianday(later) - func.julianday(earlier)) * 24.0


async def _median_hours(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[str, float | None]:
    """Median hours from receipt to first contact, by priority and for ``all``: the middle
    row (or the mean of the two middle rows) picked by window functions, on both databases."""
    hours = _hours_between(session, Case.first_contact_at, Case.received_at).label("hours")
    contacted = and_(_received(start, end), Case.first_contact_at.is_not(None))
    medians: dict[str, float | None] = {}
    for grouped in (True, False):
        group = Case.priority if grouped else literal_column("'all'")
        partition = Case.priority if grouped else None
        ranked = (
            select(
                group.label("grp"),
                hours,
                func.row_number().over(partition_by=partition, order_by=hours).label("n"),
                func.count().over(partition_by=partition).label("total"),
            )
            .where(contacted)
            .subquery()
        )
        middle = (
            select(ranked.c.grp, func.avg(ranked.c.hours))
            .where(ranked.c.n.in_([(ranked.c.total + 1) / 2, (ranked.c.total + 2) / 2]))
            .group_by(ranked.c.grp)
        )
        for name, value in (await session.execute(middle)).all():
            medians[str(name)] = round(float(value), 2) if value is not None else None
    return medians


async def _open_by_age(session: AsyncSession, as_of: datetime) -> list[tuple[str, int]]:
    whens = [
        (Case.received_at > as_of - timedelta(days=days), label)
        for label, days in AGE_BANDS
        if days is not None
    ]
    band = case(*whens, else_=AGE_BANDS[-1][0]).label("band")
    query = (
        select(band, func.count())
        .where(
            Case.received_at < as_of,
            Case.status != "draft",
            (Case.closed_at.is_(None)) | (Case.closed_at > as_of),
        )
        .group_by(band)
    )
    counts = {str(label): int(n) for label, n in (await session.execute(query)).all()}
    return [(label, counts.get(label, 0)) for label, _ in AGE_BANDS]


async def _satisfaction(session: AsyncSession, start: datetime, end: datetime) -> Satisfaction:
    query = (
        select(SurveyResponse.score, func.count())
        .where(
            SurveyResponse.answered_at >= start,
            SurveyResponse.answered_at < end,
            SurveyResponse.score.is_not(None),
        )
        .group_by(SurveyResponse.score)
    )
    by_score = {score: 0 for score in range(1, 6)}
    for score, n in (await session.execute(query)).all():
        if score is not None:
            by_score[int(score)] = int(n)
    answered = sum(by_score.values())
    satisfied = sum(by_score[s] for s in SATISFIED)
    return Satisfaction(answered, satisfied, _share(satisfied, answered), by_score)


async def _hot_spots(
    session: AsyncSession, start: datetime, end: datetime, names: Mapping[str, str]
) -> tuple[list[HotSpot], list[HotSpot]]:
    asb = and_(_received(start, end), Case.not_asb.is_(False))
    by_area = (
        select(Case.area_code, func.count(), _flag(Case.hate.is_(True)))
        .where(asb)
        .group_by(Case.area_code)
        .order_by(func.count().desc(), Case.area_code)
    )
    areas = [
        HotSpot(code, names.get(code, code) if code else "Area not known", None, int(n), int(h))
        for code, n, h in (await session.execute(by_area)).all()
    ]
    by_block = (
        select(Case.area_code, Case.block, func.count(), _flag(Case.hate.is_(True)))
        .where(asb, Case.block.is_not(None))
        .group_by(Case.area_code, Case.block)
        .order_by(func.count().desc(), Case.area_code, Case.block)
        .limit(TOP_BLOCKS)
    )
    blocks = [
        HotSpot(code, names.get(code, code) if code else "Area not known", block, int(n), int(h))
        for code, block, n, h in (await session.execute(by_block)).all()
    ]
    return areas, blocks


async def _trend(
    session: AsyncSession,
    first: date,
    zone: ZoneInfo,
    months: int,
    homes: int,
    now: datetime,
) -> list[MonthFigures]:
    bounds = [month_start(first, zone, shift) for shift in range(1 - months, 2)]
    bucket = case(
        *[(Case.received_at < bound, index) for index, bound in enumerate(bounds[1:-1])],
        else_=months - 1,
    ).label("bucket")
    asb = Case.not_asb.is_(False)
    as_of = min(bounds[-1], now)
    query = (
        select(
            bucket,
            _flag(asb),
            _flag(and_(asb, Case.hate.is_(True))),
            _flag(_due(as_of)),
            _flag(_on_time()),
        )
        .where(_received(bounds[0], bounds[-1]))
        .group_by(bucket)
    )
    counts = {int(row[0]): [int(v) for v in row[1:]] for row in (await session.execute(query))}
    trend: list[MonthFigures] = []
    for index in range(months):
        asb_n, hate_n, due_n, on_time_n = counts.get(index, [0, 0, 0, 0])
        trend.append(
            MonthFigures(
                month=f"{bounds[index]:%Y-%m}",
                asb_cases=asb_n,
                hate_cases=hate_n,
                asb_per_1000_homes=_per_thousand(asb_n, homes),
                hate_per_1000_homes=_per_thousand(hate_n, homes),
                due=due_n,
                on_time=on_time_n,
                share_on_time=_share(on_time_n, due_n),
            )
        )
    return trend


def block_for(location: str | None, blocks: Sequence[str]) -> str | None:
    """The block named in ``location`` (longest name wins), for ``Case.block``.

    Args:
        location: the reporter's words for where it happened.
        blocks: the block names of the case's area (``team.areas[].blocks``).
    """
    if not location:
        return None
    text = location.upper()
    named = [b for b in blocks if b.strip() and b.strip().upper() in text]
    return max(named, key=len).strip() if named else None
