"""The landlord's service standard as a typed, validated model.

Every number a published ASB service standard promises lives here, never in code: targets per
priority, the category table, update cadence, closure, surveys, graffiti, case reviews, risk
thresholds and the bank-holiday nation. One YAML file per landlord (see ``policies/``).
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_serializer,
    model_validator,
)

from triage.taxonomy import Category, Nation, Priority


class StrictModel(BaseModel):
    """A config model that refuses unknown keys and is immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DurationUnit(StrEnum):
    """How a duration is counted."""

    WORKING_DAYS = "working_days"
    """Whole working days: the deadline is close of business on the Nth working day."""
    HOURS_EXCLUDING_NON_WORKING_DAYS = "hours_excluding_non_working_days"
    """Clock hours that only run on working days ("24 h excluding weekends and bank holidays")."""
    BUSINESS_HOURS = "business_hours"
    """Hours that only run while the office is open."""
    HOURS = "hours"
    MINUTES = "minutes"
    DAYS = "days"
    MONTHS = "months"


_UNIT_WORDS: list[tuple[str, DurationUnit]] = [
    (r"working[ _-]?days?", DurationUnit.WORKING_DAYS),
    (r"hours? excluding weekends and bank holidays", DurationUnit.HOURS_EXCLUDING_NON_WORKING_DAYS),
    (r"business[ _-]?hours?", DurationUnit.BUSINESS_HOURS),
    (r"hours?", DurationUnit.HOURS),
    (r"minutes?|mins?", DurationUnit.MINUTES),
    (r"days?", DurationUnit.DAYS),
    (r"weeks?", DurationUnit.DAYS),
    (r"months?", DurationUnit.MONTHS),
]
_DURATION_RE = re.compile(
    r"^\s*(?P<amount>-?\d+)\s*(?P<unit>" + "|".join(f"(?:{w})" for w, _ in _UNIT_WORDS) + r")\s*$",
    re.IGNORECASE,
)
DURATION_HELP = (
    "a positive duration such as '1 working day', "
    "'24 hours excluding weekends and bank holidays', '8 business hours', '48 hours', "
    "'30 minutes', '14 days', '2 weeks' or '6 months'"
)


class Duration(BaseModel):
    """A length of time in the words a service standard uses, e.g. ``"5 working days"``.

    Written in YAML as a phrase; ``str(duration)`` gives the phrase back.
    """

    model_config = ConfigDict(frozen=True)

    amount: int
    unit: DurationUnit

    @model_validator(mode="before")
    @classmethod
    def _parse_phrase(cls, value: Any) -> Any:
        if isinstance(value, Duration):
            return {"amount": value.amount, "unit": value.unit}
        if isinstance(value, dict):
            return value
        if not isinstance(value, str):
            raise ValueError(f"expected {DURATION_HELP}")
        match = _DURATION_RE.match(value)
        if not match:
            raise ValueError(f"expected {DURATION_HELP}")
        amount = int(match["amount"])
        if amount <= 0:
            raise ValueError(f"must be more than zero; expected {DURATION_HELP}")
        word = match["unit"].lower()
        for pattern, unit in _UNIT_WORDS:
            if re.fullmatch(pattern, word):
                if pattern.startswith("week"):
                    amount *= 7
                return {"amount": amount, "unit": unit}
        raise ValueError(f"expected {DURATION_HELP}")  # pragma: no cover - regex covers all

    @field_validator("amount")
    @classmethod
    def _positive(cls, amount: int) -> int:
        if amount <= 0:
            raise ValueError(f"must be more than zero; expected {DURATION_HELP}")
        return amount

    @model_serializer
    def _as_phrase(self) -> str:
        return str(self)

    @classmethod
    def parse(cls, phrase: str) -> Duration:
        """Build a duration from its phrase, e.g. ``Duration.parse("1 working day")``."""
        return cls.model_validate(phrase)

    def as_timedelta(self) -> timedelta:
        """Elapsed time for minutes, hours and days; other units depend on the calendar."""
        per_unit = {
            DurationUnit.MINUTES: timedelta(minutes=1),
            DurationUnit.HOURS: timedelta(hours=1),
            DurationUnit.DAYS: timedelta(days=1),
        }
        if self.unit not in per_unit:
            raise ValueError(f"'{self}' is not a fixed length of time")
        return per_unit[self.unit] * self.amount

    def __str__(self) -> str:
        words = {
            DurationUnit.WORKING_DAYS: ("working day", "working days"),
            DurationUnit.HOURS_EXCLUDING_NON_WORKING_DAYS: (
                "hour excluding weekends and bank holidays",
                "hours excluding weekends and bank holidays",
            ),
            DurationUnit.BUSINESS_HOURS: ("business hour", "business hours"),
            DurationUnit.HOURS: ("hour", "hours"),
            DurationUnit.MINUTES: ("minute", "minutes"),
            DurationUnit.DAYS: ("day", "days"),
            DurationUnit.MONTHS: ("month", "months"),
        }[self.unit]
        return f"{self.amount} {words[0] if self.amount == 1 else words[1]}"


def _d(phrase: str) -> Duration:
    return Duration.parse(phrase)


Weekday = Annotated[
    str, Field(pattern=r"^(mon|tue|wed|thu|fri|sat|sun)$", description="three-letter weekday")
]
WEEKDAY_INDEX = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


class BusinessHours(StrictModel):
    """When the office is open. Reports after closing count from the next opening."""

    opens: time = time(9, 0)
    closes: time = time(17, 0)
    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")

    @field_validator("opens", "closes", mode="before")
    @classmethod
    def _quoted_clock_time(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted 09:00 as the number 540: refuse it rather than guess.
        if isinstance(value, int):
            raise ValueError("write clock times in quotes, e.g. '09:00'")
        return value

    @model_validator(mode="after")
    def _opens_before_closes(self) -> Self:
        if self.opens >= self.closes:
            raise ValueError(
                f"opens ({self.opens:%H:%M}) must be before closes ({self.closes:%H:%M})"
            )
        if not self.days:
            raise ValueError("days must name at least one weekday")
        return self

    @property
    def weekday_numbers(self) -> frozenset[int]:
        """The open days as ``date.weekday()`` numbers."""
        return frozenset(WEEKDAY_INDEX[d] for d in self.days)


class PriorityTarget(StrictModel):
    """What the standard promises for one priority."""

    label: str = Field(min_length=1, description="plain words, e.g. 'high risk of harm'")
    first_contact: Duration
    """The date the reporter is told an officer will be in touch by."""
    acknowledge: Duration | None = None
    start_investigation: Duration | None = None
    remind_before: Duration = _d("2 hours")
    """How long before the first-contact deadline the officer is reminded."""


class CategoryRule(StrictModel):
    """One row of the category table (seed 003 §9.1)."""

    priority: Priority
    severity_dependent: bool = False
    """If true, severity, frequency, risk or vulnerability raise it to ``raised_priority``."""
    raised_priority: Priority = Priority.P1


class UpdateCadence(StrictModel):
    """How often the officer updates the reporter (R-09)."""

    default: Duration = _d("14 days")
    choices: tuple[Duration, ...] = (
        _d("7 days"),
        _d("14 days"),
        _d("28 days"),
    )
    """What a reporter may pick from when agreeing the action plan."""
    at_least_every: dict[Category, Duration] = Field(
        default_factory=lambda: {Category.HATE_INCIDENT: _d("14 days")}
    )
    """An upper bound per category, whatever the reporter picks (hate: every 14 days)."""


CLOSURE_REASONS_DEFAULT = (
    "resolved",
    "withdrawn",
    "action_plan_not_kept",
    "actions_exhausted",
    "no_new_reports",
)


class Closure(StrictModel):
    """When and how a case may be closed (R-13)."""

    no_new_reports_after: Duration = _d("28 days")
    contact_methods_before_closing: int = Field(default=2, ge=1, le=5)
    """How many different contact methods are tried before a case is closed on silence."""
    wait_for_reply: Duration = _d("7 days")
    """How long after the closure check the officer is asked to decide on closing."""
    confirm_in_writing: bool = True
    reasons: tuple[str, ...] = CLOSURE_REASONS_DEFAULT

    @field_validator("reasons")
    @classmethod
    def _reasons_are_codes(cls, reasons: tuple[str, ...]) -> tuple[str, ...]:
        if not reasons:
            raise ValueError("at least one closure reason is needed")
        for reason in reasons:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", reason):
                raise ValueError(f"closure reason {reason!r} must be a lower_snake_case code")
        return reasons


class Survey(StrictModel):
    """The satisfaction survey after closure (R-14)."""

    enabled: bool = True
    delay: Duration = _d("7 days")
    answer_within: Duration = _d("28 days")
    """A reply this long after the survey was sent is no longer read as its answer."""


class Graffiti(StrictModel):
    """Graffiti-removal targets (R-11)."""

    offensive: Duration = _d("1 working days")
    other: Duration = _d("10 working days")


class CaseReview(StrictModel):
    """ASB Case Review threshold (R-12, seed 003 §16.2)."""

    incidents: int = Field(default=3, ge=1)
    within: Duration = _d("6 months")
    high_risk_qualifies: bool = True


class RiskThresholds(StrictModel):
    """Scores at which the risk questionnaire gives medium and high risk."""

    medium_at: int = Field(default=4, ge=1)
    high_at: int = Field(default=8, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.high_at <= self.medium_at:
            raise ValueError(
                f"high_at ({self.high_at}) must be greater than medium_at ({self.medium_at})"
            )
        return self


class OutOfHours(StrictModel):
    """What happens to a report that arrives while the office is closed."""

    p1_to_on_call: bool = True
    others_wait_for_next_working_morning: bool = True


class Alerts(StrictModel):
    """How officers are alerted and kept on time (R-02, R-17)."""

    second_route_after: Duration = _d("15 minutes")
    """An urgent alert not acknowledged this long after it was sent goes by a second route
    (the officer's other contact and the on-call officer), and to the manager after as long
    again."""
    digest_at: time = time(8, 0)
    """When, on working days, officers get their daily digest (and the fortnightly review
    and monthly figures are prepared)."""

    @field_validator("digest_at", mode="before")
    @classmethod
    def _quoted_clock_time(cls, value: Any) -> Any:
        if isinstance(value, int):
            raise ValueError("write clock times in quotes, e.g. '08:00'")
        return value

    @field_validator("second_route_after")
    @classmethod
    def _elapsed(cls, value: Duration) -> Duration:
        value.as_timedelta()  # minutes, hours or days: an escalation waits elapsed time
        return value


class NotAsb(StrictModel):
    """Everyday living that is not ASB (R-15, seed 002 §13)."""

    respond_within: Duration = _d("10 working days")
    repeat_window: Duration = _d("12 months")
    """A further not-ASB report within this window is pointed back to the earlier advice."""


class Performance(StrictModel):
    """Targets that the monthly figures are measured against (R-16)."""

    respond_within: Duration = _d("2 working days")
    resolve_within: Duration | None = _d("45 working days")
    homes: int = Field(gt=0, description="homes managed, for per-1,000-homes figures")
    manager_review_every: Duration = _d("14 days")
    """How often managers review open cases (R-17: fortnightly)."""


def _default_categories() -> dict[Category, CategoryRule]:
    one_day = {
        Category.HATE_INCIDENT,
        Category.DOMESTIC_ABUSE,
        Category.VIOLENCE_THREATS,
        Category.HARASSMENT_INTIMIDATION,
        Category.CRIMINAL_BEHAVIOUR,
        Category.DRUGS_ALCOHOL,
    }
    either = {
        Category.NOISE,
        Category.VERBAL_ABUSE,
        Category.YOUTH_DISORDER,
        Category.DANGEROUS_DOGS,
        Category.PROPERTY_DAMAGE,
    }
    rules: dict[Category, CategoryRule] = {}
    for category in Category:
        if category in one_day:
            rules[category] = CategoryRule(priority=Priority.P1)
        elif category in either:
            rules[category] = CategoryRule(priority=Priority.P2, severity_dependent=True)
        elif category is Category.NOT_ASB:
            rules[category] = CategoryRule(priority=Priority.P3)
        else:
            rules[category] = CategoryRule(priority=Priority.P2)
    return rules


class Policy(StrictModel):
    """A landlord's whole ASB and hate-crime service standard."""

    name: str = Field(min_length=1)
    follows: str = Field(default="", description="the published standard this policy encodes")
    nation: Nation
    timezone: str = "Europe/London"
    business_hours: BusinessHours = BusinessHours()
    priorities: dict[Priority, PriorityTarget]
    categories: dict[Category, CategoryRule] = Field(default_factory=_default_categories)
    update_cadence: UpdateCadence = UpdateCadence()
    closure: Closure = Closure()
    survey: Survey = Survey()
    graffiti: Graffiti = Graffiti()
    case_review: CaseReview = CaseReview()
    risk: RiskThresholds = RiskThresholds()
    out_of_hours: OutOfHours = OutOfHours()
    alerts: Alerts = Alerts()
    not_asb: NotAsb = NotAsb()
    performance: Performance

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {zone!r}; expected an IANA name such as 'Europe/London'"
            ) from exc
        return zone

    @field_validator("priorities")
    @classmethod
    def _every_priority(
        cls, targets: dict[Priority, PriorityTarget]
    ) -> dict[Priority, PriorityTarget]:
        missing = [p.value for p in Priority if p not in targets]
        if missing:
            raise ValueError(f"a target is needed for every priority; missing {', '.join(missing)}")
        return targets

    @field_validator("categories")
    @classmethod
    def _every_category(cls, rules: dict[Category, CategoryRule]) -> dict[Category, CategoryRule]:
        defaults = _default_categories()
        return {category: rules.get(category, defaults[category]) for category in Category}

    @model_validator(mode="after")
    def _hate_is_top_priority(self) -> Self:
        if self.categories[Category.HATE_INCIDENT].priority is not Priority.P1:
            raise ValueError(
                "categories.hate_incident.priority must be P1: hate is always the top priority"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The policy's time zone."""
        return ZoneInfo(self.timezone)
