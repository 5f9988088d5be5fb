"""The monthly performance report (R-16): each measure from a known month of cases, on both
databases; the landlord's calendar months; CSV and JSON; the console's charts and downloads."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from casework.context import CaseworkContext
from casework.reports import (
    HotSpot,
    MonthlyReport,
    Satisfaction,
    block_for,
    monthly_report,
    parse_month,
)
from storage.models import Case, SurveyResponse
from storage.uow import Storage
from tests.casework.conftest import Clock
from tests.casework.console.conftest import Browser

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)


def at(day: int, hour: int = 10, month: int = 8) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=LONDON)


async def add_cases(storage: Storage, rows: list[dict[str, Any]]) -> list[int]:
    ids = []
    async with storage.unit_of_work() as uow:
        for number, row in enumerate(rows, start=1):
            values = {
                "reference": f"ASB-2026-{number:06d}", "status": "open", "priority": "P2",
                "category": "noise", "area_code": "north", **row,
            }
            values.setdefault("created_at", values["received_at"])
            case = Case(**values)
            uow.session.add(case)
            await uow.session.flush()
            ids.append(case.id)
    return ids


@pytest.fixture
async def august(storage: Storage) -> list[int]:
    """August 2026: four ASB cases (one hate), a not-ASB report, a draft and one July case."""
    ids = await add_cases(storage, [
        # P1 hate, contacted 2 hours after receipt, on time.
        {"priority": "P1", "category": "hate_incident", "hate": True, "received_at": at(3),
         "deadline_at": at(4, 17), "first_contact_at": at(3, 12), "block": "Elm Court"},
        # P2 contacted a day late, then closed.
        {"received_at": at(10), "deadline_at": at(17, 17), "first_contact_at": at(18, 10),
         "area_code": "south", "block": "Oak Tower", "status": "closed",
         "closed_at": at(25)},
        # P2 never contacted: the deadline has passed, so it is due and late.
        {"received_at": at(20), "deadline_at": at(27, 17), "area_code": "south",
         "block": "Oak Tower"},
        # Not ASB (P3), answered on time: counted for response times, not for NM01.
        {"priority": "P3", "category": "not_asb", "not_asb": True, "received_at": at(5),
         "deadline_at": at(19, 17), "first_contact_at": at(6, 10)},
        # An incomplete draft: left out everywhere.
        {"status": "draft", "received_at": at(6), "deadline_at": at(7, 17)},
        # 00:30 on 1 August in London is 23:30 on 31 July in UTC: an August case.
        {"priority": "P1", "category": "violence_threats", "received_at": at(1, 0)
         + timedelta(minutes=30), "deadline_at": at(3, 17)},
        # 23:30 on 31 July in London: July's.
        {"priority": "P1", "category": "violence_threats",
         "received_at": datetime(2026, 7, 31, 23, 30, tzinfo=LONDON),
         "deadline_at": at(3, 17), "first_contact_at": at(3, 9)},
    ])
    async with storage.unit_of_work() as uow:
        for case_id, score, answered in ((ids[0], 1, at(20)), (ids[1], 2, at(28)),
                                         (ids[3], 4, at(29)), (ids[6], 5, at(2, 10, 9))):
            uow.session.add(SurveyResponse(case_id=case_id, channel="sms", asked_at=at(1),
                                           answered_at=answered, score=score))
    return ids


async def report_for(storage: Storage, casework: CaseworkContext, month: str) -> MonthlyReport:
    return await monthly_report(
        storage, parse_month(month), policy=casework.policy, now=NOW,
        area_names={"north": "North estates", "south": "South estates"},
    )


async def test_the_month_s_figures(
    storage: Storage, casework: CaseworkContext, august: list[int]
) -> None:
    report = await report_for(storage, casework, "2026-08")
    assert report.homes == 12000
    assert (report.asb_cases, report.hate_cases, report.not_asb_reports) == (4, 1, 1)
    assert report.asb_per_1000_homes == pytest.approx(0.333)
    assert report.hate_per_1000_homes == pytest.approx(0.083)
    by = {r.priority: r for r in report.first_response}
    assert (by["P1"].received, by["P1"].due, by["P1"].on_time) == (2, 2, 1)
    assert (by["P2"].due, by["P2"].on_time, by["P2"].share_on_time) == (2, 0, 0.0)
    assert (by["P3"].due, by["P3"].on_time, by["P3"].share_on_time) == (1, 1, 1.0)
    assert (by["all"].due, by["all"].on_time) == (5, 2)
    assert by["P1"].median_hours_to_first_contact == pytest.approx(2.0)
    assert by["P3"].median_hours_to_first_contact == pytest.approx(24.0)
    # all: 2 h, 24 h and 8 days (192 h): the middle one.
    assert by["all"].median_hours_to_first_contact == pytest.approx(24.0)


async def test_open_cases_by_age_as_at_the_end_of_the_month(
    storage: Storage, casework: CaseworkContext, august: list[int]
) -> None:
    report = await report_for(storage, casework, "2026-08")
    assert report.as_of == datetime(2026, 9, 1, tzinfo=LONDON)
    assert dict(report.open_by_age) == {
        "0-7 days": 0, "8-28 days": 2, "29-60 days": 3, "61-90 days": 0, "over 90 days": 0,
    }
    assert report.open_cases == 5


async def test_satisfaction_and_hot_spots(
    storage: Storage, casework: CaseworkContext, august: list[int]
) -> None:
    report = await report_for(storage, casework, "2026-08")
    survey = report.satisfaction
    assert (survey.answered, survey.satisfied, survey.share_satisfied) == (3, 2, 0.6667)
    assert survey.by_score == {1: 1, 2: 1, 3: 0, 4: 1, 5: 0}
    assert [(s.name, s.cases, s.hate_cases) for s in report.areas] == [
        ("North estates", 2, 1), ("South estates", 2, 0),
    ]
    assert [(s.block, s.cases) for s in report.blocks] == [("Oak Tower", 2), ("Elm Court", 1)]


async def test_the_trend_covers_twelve_months_ending_with_the_month(
    storage: Storage, casework: CaseworkContext, august: list[int]
) -> None:
    report = await report_for(storage, casework, "2026-08")
    assert (report.trend[0].month, report.trend[-1].month) == ("2025-09", "2026-08")
    assert len(report.trend) == 12
    july, aug = report.trend[-2], report.trend[-1]
    assert (july.asb_cases, july.on_time, july.due) == (1, 1, 1)
    assert (aug.asb_cases, aug.hate_cases) == (4, 1)


async def test_a_month_with_nothing_in_it(storage: Storage, casework: CaseworkContext) -> None:
    report = await report_for(storage, casework, "2026-03")
    assert report.asb_cases == 0 and report.first_response[-1].share_on_time is None
    assert report.satisfaction.share_satisfied is None and report.areas == []


async def test_csv_has_one_figure_per_row_and_json_every_measure(
    storage: Storage, casework: CaseworkContext, august: list[int]
) -> None:
    report = await report_for(storage, casework, "2026-08")
    rows = list(csv.DictReader(io.StringIO(report.as_csv())))
    figures = {(r["measure"], r["group"]): r["value"] for r in rows if r["month"] == "2026-08"}
    assert figures[("asb_cases_per_1000_homes_nm01_1", "")] == "0.333"
    assert figures[("first_response_share_on_time", "P1")] == "0.5"
    assert figures[("share_satisfied_tp12", "")] == "0.6667"
    assert figures[("cases_by_block", "South estates / Oak Tower")] == "2"
    data = json.loads(json.dumps(report.as_dict()))
    assert data["month"] == "2026-08" and data["open_cases"] == 5
    assert data["first_response"][0]["priority"] == "P1"


def test_spreadsheet_formulas_in_names_stay_text() -> None:
    report = MonthlyReport(
        month="2026-08", homes=1, as_of=NOW, asb_cases=0, hate_cases=0, not_asb_reports=0,
        asb_per_1000_homes=0.0, hate_per_1000_homes=0.0, first_response=[], open_by_age=[],
        satisfaction=Satisfaction(0, 0, None, {}),
        areas=[HotSpot("x", "=HYPERLINK(1)", None, 1, 0)],
        blocks=[],
    )
    assert "'=HYPERLINK(1)" in report.as_csv()


@pytest.mark.parametrize(
    ("location", "expected"),
    [("outside Elm Court, DH1", "Elm Court"), ("ELM COURT TOWER", "Elm Court Tower"),
     ("the park", None), (None, None)],
)
def test_block_for(location: str | None, expected: str | None) -> None:
    assert block_for(location, ["Elm Court", "Elm Court Tower", " "]) == expected


def test_a_month_is_its_first_day() -> None:
    assert parse_month("2026-08") == date(2026, 8, 1)


@pytest.mark.parametrize("value", ["2026-13", "26-08", "2026-8-1", "August", "1999-01"])
def test_months_are_written_yyyy_mm(value: str) -> None:
    with pytest.raises(ValueError):
        parse_month(value)


async def test_managers_see_the_charts_and_download_csv(
    browser: Browser, accounts: Storage, clock: Clock
) -> None:
    await browser.sign_in("chloe")
    page = await browser.get("/console/reports?month=2026-07")
    assert page.status_code == 200
    assert page.text.count("<svg") == 5 and 'role="img"' in page.text
    assert "NM01(1)" in page.text and "TP12" in page.text
    download = await browser.get("/console/reports/monthly.csv?month=2026-07")
    assert download.headers["content-type"].startswith("text/csv")
    assert 'filename="asb-report-2026-07.csv"' in download.headers["content-disposition"]
    assert download.text.startswith("month,measure,group,value")
    as_json = await browser.get("/console/reports/monthly.json?month=2026-07")
    assert as_json.json()["month"] == "2026-07"
    assert (await browser.get("/console/reports?month=2026-99")).status_code == 400
    default = await browser.get("/console/reports")
    assert "Performance against the standard: 2026-07" in default.text  # last month


async def test_officers_cannot_see_the_reports(browser: Browser) -> None:
    await browser.sign_in("amara")
    assert (await browser.get("/console/reports")).status_code == 403
    assert (await browser.get("/console/reports/monthly.csv")).status_code == 403
