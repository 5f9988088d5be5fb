"""Each policy profile carries its seed standard's own numbers (../shared/seeds/)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from intake.settings import load_settings
from tests.conftest import REPO
from triage.calendar import WorkingCalendar
from triage.policy import Policy
from triage.taxonomy import Category, Priority

LONDON = ZoneInfo("Europe/London")
FRIDAY_4PM = datetime(2026, 11, 20, 16, 0, tzinfo=LONDON)
PROFILES = sorted((REPO / "policies").glob("*.yaml"))


def policy(name: str) -> Policy:
    return load_settings(REPO / "policies" / name, {}).policy


def due(p: Policy, priority: Priority, start: datetime = FRIDAY_4PM) -> datetime:
    return WorkingCalendar.from_policy(p).deadline(start, p.priorities[priority].first_contact)


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_every_profile_loads_and_names_its_seed(path: Path) -> None:
    loaded = load_settings(path, {}).policy
    seed = loaded.follows.removeprefix("seeds/")
    assert seed.endswith(".txt")
    seeds = REPO.parent / "shared" / "seeds"
    if seeds.is_dir():  # beside the clone on developers' machines and in CI
        assert (seeds / seed).is_file(), f"{path.name} names a seed that does not exist"
    assert seed in path.read_text(encoding="utf-8").splitlines()[0]
    assert loaded.categories[Category.HATE_INCIDENT].priority is Priority.P1


def test_seed000_responds_to_everything_within_two_working_days() -> None:
    p = policy("seed000-respond-within-two-working-days.yaml")
    for priority in Priority:
        assert due(p, priority) == datetime(2026, 11, 24, 17, tzinfo=LONDON)
    assert str(p.performance.resolve_within) == "45 working days"
    assert str(p.survey.delay) == "7 days"


def test_seed001_south_essex_counts_24_hours_excluding_weekends() -> None:
    p = policy("seed001-south-essex-homes.yaml")
    assert due(p, Priority.P1) == datetime(2026, 11, 23, 16, tzinfo=LONDON)
    christmas_eve = datetime(2026, 12, 24, 11, tzinfo=LONDON)
    assert due(p, Priority.P1, christmas_eve) == datetime(2026, 12, 29, 11, tzinfo=LONDON)
    start = p.priorities[Priority.P2].start_investigation
    assert start is not None and str(start) == "5 working days"
    assert due(p, Priority.P3) == datetime(2026, 12, 4, 17, tzinfo=LONDON)
    assert str(p.closure.no_new_reports_after) == "60 days"


def test_seed003_believe_housing_category_table_and_thresholds() -> None:
    p = policy("seed003-believe-housing.yaml")
    one_day = [
        Category.HATE_INCIDENT,
        Category.DOMESTIC_ABUSE,
        Category.VIOLENCE_THREATS,
        Category.HARASSMENT_INTIMIDATION,
        Category.CRIMINAL_BEHAVIOUR,
        Category.DRUGS_ALCOHOL,
    ]
    five_days = [
        Category.VEHICLE_NUISANCE,
        Category.ANIMAL_NUISANCE,
        Category.LITTER_FLY_TIPPING,
        Category.GARDEN_NUISANCE,
        Category.COMMUNAL_AREAS_MISUSE,
    ]
    either = [
        Category.NOISE,
        Category.VERBAL_ABUSE,
        Category.YOUTH_DISORDER,
        Category.DANGEROUS_DOGS,
    ]
    assert all(p.categories[c].priority is Priority.P1 for c in one_day)
    assert all(
        p.categories[c].priority is Priority.P2 and not p.categories[c].severity_dependent
        for c in five_days
    )
    assert all(p.categories[c].severity_dependent for c in either)
    assert due(p, Priority.P1) == datetime(2026, 11, 23, 17, tzinfo=LONDON)
    assert due(p, Priority.P2) == datetime(2026, 11, 27, 17, tzinfo=LONDON)
    assert str(p.closure.no_new_reports_after) == "28 days"
    assert (p.case_review.incidents, str(p.case_review.within)) == (3, "6 months")
    assert p.case_review.high_risk_qualifies


def test_seed004_birmingham_hate_crime_standard() -> None:
    p = policy("seed004-birmingham-hate-crime.yaml")
    assert due(p, Priority.P1) == datetime(2026, 11, 23, 17, tzinfo=LONDON)
    assert str(p.update_cadence.at_least_every[Category.HATE_INCIDENT]) == "14 days"
    calendar = WorkingCalendar.from_policy(p)
    assert calendar.deadline(FRIDAY_4PM, p.graffiti.offensive) == datetime(
        2026, 11, 23, 17, tzinfo=LONDON
    )
    assert str(p.performance.manager_review_every) == "14 days"


def test_seed002_points_repeat_not_asb_reports_back_to_advice() -> None:
    p = policy("seed002-borough-asb-commitments.yaml")
    assert str(p.not_asb.repeat_window) == "12 months"
    assert p.categories[Category.NOT_ASB].priority is Priority.P3
