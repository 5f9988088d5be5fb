"""The intake questions, in the order they are asked, as a table.

Each row says what kind of answer it takes, its choices, when it applies and how the first
message can answer it already, so the engine never asks what it has been told.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from intake.messages import Channel
from triage import Classification, risk_questions
from triage.policy import Policy
from triage.taxonomy import CATEGORY_LABELS, Category

YES_NO = ("yes", "no")
YES_NO_NOT_SURE = ("yes", "no", "not_sure")
DEFAULT_CATEGORY_CHOICES = (
    Category.HARASSMENT_INTIMIDATION,
    Category.NOISE,
    Category.PROPERTY_DAMAGE,
)


@dataclass(frozen=True)
class View:
    """What a question needs to know to decide whether it applies."""

    answers: dict[str, Any]
    classification: Classification | None
    channel: Channel
    policy: Policy

    def said(self, question: str, *values: str) -> bool:
        """True if ``question`` was answered with one of ``values``."""
        answer = self.answers.get(question)
        if isinstance(answer, list):
            return any(v in answer for v in values)
        return answer in values

    @property
    def third_party(self) -> bool:
        """Reporting on someone else's behalf (R-07)."""
        return self.said("for_whom", "someone_else")

    @property
    def not_asb_path(self) -> bool:
        """Everyday living, confirmed by the reporter (R-15)."""
        return self.said("category", Category.NOT_ASB.value)

    @property
    def domestic_abuse(self) -> bool:
        """The domestic-abuse pathway: no risk checklist by text; ask when it is safe."""
        chosen = self.answers.get("category")
        if chosen:
            return bool(chosen == Category.DOMESTIC_ABUSE.value)
        return bool(self.classification and self.classification.category is Category.DOMESTIC_ABUSE)

    @property
    def anonymous(self) -> bool:
        """The reporter chose not to give their name (R-08)."""
        return self.said("anonymous", "anonymous")

    @property
    def graffiti(self) -> bool:
        """A graffiti report (R-11)."""
        return self.said("category", Category.GRAFFITI.value)

    @property
    def phone_channel(self) -> bool:
        """The reporter's address on this channel is a phone number."""
        return self.channel in (Channel.SMS, Channel.WHATSAPP)


@dataclass(frozen=True)
class Question:
    """One row of the question table."""

    id: str
    kind: str
    """yes_no, choice, multi or text."""
    applies: Callable[[View], bool] = lambda view: True
    options: Callable[[View], tuple[str, ...]] = lambda view: ()
    prefill: Callable[[View, str], Any] = lambda view, text: None
    prompt: Callable[[View], str] | None = None
    """The catalog key, when it is not ``q.<id>``."""

    def prompt_key(self, view: View) -> str:
        """Which catalog text asks this question."""
        return self.prompt(view) if self.prompt else f"q.{self.id}"


@lru_cache(maxsize=1)
def _cues() -> dict[str, list[re.Pattern[str]]]:
    path = Path(__file__).with_name("prefill.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        name: [re.compile(p, re.IGNORECASE) for p in patterns] for name, patterns in data.items()
    }


def _first_cue(text: str, names: tuple[str, ...]) -> str | None:
    for name in names:
        if any(p.search(text) for p in _cues()[name]):
            return name
    return None


def category_choices(view: View) -> tuple[str, ...]:
    """The classifier's top categories to confirm, then "something else"."""
    if _offer_not_asb(view):
        return (Category.NOT_ASB.value, "more_serious")
    ranked: list[Category] = []
    if view.classification is not None and view.classification.matched:
        ranked = [c for c in view.classification.categories if c is not Category.NOT_ASB]
    for fallback in DEFAULT_CATEGORY_CHOICES:
        if len(ranked) >= 3:
            break
        if fallback not in ranked:
            ranked.append(fallback)
    return (*[c.value for c in ranked[:3]], "something_else")


def risk_choices(view: View) -> tuple[str, ...]:
    """The risk questionnaire as a checklist (R-03)."""
    return (*[q.id for q in risk_questions()], "none_of_these")


def update_choices(view: View) -> tuple[str, ...]:
    """Update frequencies the policy offers, capped for hate cases (R-09)."""
    cadence = view.policy.update_cadence
    days = sorted({d.amount for d in cadence.choices})
    hate = view.said("hate", "yes") or bool(view.classification and view.classification.hate)
    cap = cadence.at_least_every.get(Category.HATE_INCIDENT) if hate else None
    if cap is not None:
        days = [d for d in days if d <= cap.amount] or [cap.amount]
    return tuple(str(d) for d in days)


def contact_choices(view: View) -> tuple[str, ...]:
    """Ways to be contacted: this channel first."""
    choices = ["this_channel", "phone"]
    if view.channel is not Channel.EMAIL:
        choices.append("email")
    choices.append("letter")
    return tuple(choices)


def _prefill_danger(view: View, text: str) -> str | None:
    c = view.classification
    # danger words: 999 at once; the model's reading alone: the reporter is asked first
    return "yes" if c and c.emergency and not c.emergency_unconfirmed else None


def _prefill_for_whom(view: View, text: str) -> str | None:
    return "someone_else" if view.classification and view.classification.third_party else None


def _prefill_when(view: View, text: str) -> str | None:
    return text if _first_cue(text, ("when",)) else None


def _prefill_how_often(view: View, text: str) -> str | None:
    return _first_cue(text, ("often", "few_times", "first_time"))


def _prefill_graffiti_offensive(view: View, text: str) -> str | None:
    c = view.classification
    return "yes" if c and (c.offensive_graffiti or c.hate) else None


def _prefill_evidence(view: View, text: str) -> str | None:
    return "sending_now" if view.answers.get("_attachments") else None


def _category_prompt(view: View) -> str:
    return "q.category.not_asb" if _offer_not_asb(view) else "q.category"


def _offer_not_asb(view: View) -> bool:
    return bool(view.classification and view.classification.not_asb) and not view.answers.get(
        "_not_asb_rejected"
    )


QUESTIONS: tuple[Question, ...] = (
    Question("category", "choice", options=category_choices, prompt=_category_prompt),
    Question(
        "danger",
        "yes_no",
        prefill=_prefill_danger,
        options=lambda v: YES_NO,
        applies=lambda v: not v.not_asb_path,
    ),
    Question(
        "for_whom",
        "choice",
        applies=lambda v: not v.not_asb_path,
        options=lambda v: ("myself", "someone_else"),
        prefill=_prefill_for_whom,
    ),
    Question("advocate_name", "text", applies=lambda v: v.third_party),
    Question("tenant_name", "text", applies=lambda v: v.third_party),
    Question("tenant_address", "text", applies=lambda v: v.third_party),
    Question("tenant_contact", "text", applies=lambda v: v.third_party),
    Question("tenant_consent", "yes_no", applies=lambda v: v.third_party, options=lambda v: YES_NO),
    Question(
        "tenant_preferred_contact",
        "choice",
        applies=lambda v: v.third_party and v.said("tenant_consent", "yes"),
        options=lambda v: ("phone", "text", "email", "letter", "through_you"),
    ),
    Question("when", "text", applies=lambda v: not v.not_asb_path, prefill=_prefill_when),
    Question(
        "how_often",
        "choice",
        applies=lambda v: not v.not_asb_path,
        options=lambda v: ("first_time", "few_times", "often"),
        prefill=_prefill_how_often,
    ),
    Question(
        "still_happening",
        "yes_no",
        applies=lambda v: (
            not v.not_asb_path
            and not v.said("danger", "yes")
            and not v.said("how_often", "first_time")
        ),
        options=lambda v: YES_NO,
    ),
    Question("where", "text", applies=lambda v: not v.not_asb_path),
    Question(
        "graffiti_offensive",
        "yes_no",
        applies=lambda v: v.graffiti,
        options=lambda v: YES_NO,
        prefill=_prefill_graffiti_offensive,
    ),
    Question(
        "who",
        "choice",
        applies=lambda v: not v.not_asb_path and not v.graffiti,
        options=lambda v: ("known_adult", "known_under_18", "unknown", "rather_not_say"),
    ),
    Question(
        "evidence",
        "choice",
        applies=lambda v: not v.not_asb_path,
        options=lambda v: ("sending_now", "later", "none"),
        prefill=_prefill_evidence,
    ),
    Question("hate", "choice", options=lambda v: YES_NO_NOT_SURE),
    Question(
        "risk",
        "multi",
        applies=lambda v: not v.not_asb_path and not v.domestic_abuse,
        options=risk_choices,
        prompt=lambda v: "q.risk.third_party" if v.third_party else "q.risk",
    ),
    Question("da_safe_contact", "text", applies=lambda v: v.domestic_abuse),
    Question(
        "share_consent", "yes_no", applies=lambda v: not v.not_asb_path, options=lambda v: YES_NO
    ),
    Question(
        "anonymous",
        "choice",
        applies=lambda v: not v.third_party and not v.not_asb_path,
        options=lambda v: ("named", "anonymous"),
    ),
    Question(
        "reporter_name",
        "text",
        applies=lambda v: not v.third_party and not v.anonymous and not v.not_asb_path,
    ),
    Question(
        "reporter_address",
        "text",
        applies=lambda v: not v.third_party and not v.anonymous and not v.not_asb_path,
    ),
    Question(
        "contact_method",
        "choice",
        applies=lambda v: not v.third_party and not v.anonymous and not v.not_asb_path,
        options=contact_choices,
    ),
    Question(
        "contact_phone",
        "text",
        applies=lambda v: v.said("contact_method", "phone") and not v.phone_channel,
    ),
    Question(
        "contact_email",
        "text",
        applies=lambda v: v.said("contact_method", "email") and v.channel is not Channel.EMAIL,
    ),
    Question(
        "safe_messages",
        "yes_no",
        applies=lambda v: not v.anonymous and not v.not_asb_path and not v.domestic_abuse,
        options=lambda v: YES_NO,
    ),
    Question(
        "update_frequency",
        "choice",
        applies=lambda v: not v.anonymous and not v.not_asb_path,
        options=update_choices,
    ),
    Question(
        "support",
        "yes_no",
        applies=lambda v: not v.anonymous and not v.not_asb_path,
        options=lambda v: YES_NO,
    ),
    Question(
        "adjustments",
        "multi",
        applies=lambda v: not v.anonymous and not v.not_asb_path,
        options=lambda v: ("interpreter", "bsl", "large_print", "easy_read", "text_only", "none"),
    ),
    Question(
        "interpreter_language", "text", applies=lambda v: v.said("adjustments", "interpreter")
    ),
)
BY_ID = {q.id: q for q in QUESTIONS}

CHANGEABLE = (
    "category",
    "when",
    "where",
    "who",
    "hate",
    "danger",
    "contact_method",
    "update_frequency",
    "anonymous",
    "description",
)
"""What a reporter can pick to correct at the summary."""


def option_label_key(question: Question, value: str) -> tuple[str, dict[str, Any]]:
    """The catalog key and parameters that label one option."""
    if question.id == "category" and value == Category.NOT_ASB.value:
        return "option.that_is_right", {}
    if question.id == "category" and value not in ("something_else", "more_serious"):
        return "category." + value, {}
    if question.id == "risk" and value != "none_of_these":
        return "risk." + value, {}
    if question.id == "update_frequency":
        named = {"7": "option.weekly", "14": "option.fortnightly", "28": "option.four_weekly"}
        return named.get(value, "option.every_days"), {"days": value}
    return "option." + value, {}


def category_label(value: str) -> str:
    """Plain words for a category code."""
    return CATEGORY_LABELS[Category(value)]
