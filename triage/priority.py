"""Setting a report's priority from its classification, risk and the landlord's policy (R-04, R-05).

The order of the rules is the service standard's own:

1. Hate (found in the words, or the reporter says so: their perception decides) is P1.
2. Immediate danger is P1, with "call 999" (R-02).
3. Everyday living that is not ASB is P3, answered with self-help advice (R-15).
4. Otherwise the policy's category table gives the priority; a severity-dependent category
   (noise, verbal abuse, youth disorder, dangerous dogs...) rises to its raised priority on
   severity cues, medium or high risk, or repeat incidents, as listed in
   ``data/priority.yaml``. Ordinary frequency ("every night") does not raise it.
5. A high risk assessment raises any ASB category to P1.

Every decision carries the reasons that led to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from triage.classifier import Classification
from triage.policy import Policy
from triage.risk import RiskAssessment
from triage.taxonomy import PRIORITY_WORDS, Category, Priority, RiskLevel
from triage.vocabulary import load_data


@dataclass(frozen=True, slots=True)
class PriorityDecision:
    """The priority given to a report, and why.

    Attributes:
        priority: P1, P2 or P3.
        category: The category the decision was made for (hate incident when hate decided it).
        hate: Recorded as a hate incident (from the words or the reporter's perception).
        call_999: Tell the reporter to call 999 now and alert an officer (R-02).
        self_help_advice: Not ASB: answer with self-help advice (R-15).
        domestic_abuse: Follow the domestic abuse pathway: ask when it is safe to be contacted,
            signpost the National Domestic Abuse Helpline, never run DASH by text.
        reasons: Human-readable lines, in the order the rules were applied.
    """

    priority: Priority
    category: Category
    hate: bool
    call_999: bool
    self_help_advice: bool
    domestic_abuse: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Raising:
    any_cue: frozenset[str]
    all_cues: tuple[frozenset[str], ...]
    risk_levels: frozenset[RiskLevel]
    any_category_p1_at: RiskLevel
    unmatched: Priority
    unmatched_raise_with: frozenset[str]


@lru_cache(maxsize=1)
def _raising() -> _Raising:
    data = load_data("priority.yaml")
    return _Raising(
        any_cue=frozenset(str(k) for k in data["raise_with_any"]),
        all_cues=tuple(frozenset(str(k) for k in group) for group in data["raise_with_all"]),
        risk_levels=frozenset(RiskLevel(str(level)) for level in data["raise_with_risk"]),
        any_category_p1_at=RiskLevel(str(data["any_category_p1_at_risk"])),
        unmatched=Priority(str(data["unmatched_priority"])),
        unmatched_raise_with=frozenset(str(k) for k in data["unmatched_raise_with"]),
    )


def _severity_reasons(
    classification: Classification,
    risk: RiskAssessment | None,
    incidents_in_window: int,
    policy: Policy,
) -> list[str]:
    """Why a severity-dependent category should rise (empty if it should not)."""
    raising = _raising()
    found = set(classification.severity)
    why = [f"{kind.replace('_', ' ')} in the report" for kind in sorted(raising.any_cue & found)]
    why += [
        " and ".join(sorted(group)) + " in the report"
        for group in raising.all_cues
        if group <= found
    ]
    if risk is not None and risk.level in raising.risk_levels:
        why.append(f"{risk.level.value} risk")
    if incidents_in_window >= policy.case_review.incidents:
        why.append(
            f"repeat incidents: {incidents_in_window} within {policy.case_review.within}"
        )
    return why


def decide_priority(
    classification: Classification,
    policy: Policy,
    *,
    risk: RiskAssessment | None = None,
    reporter_says_hate: bool | None = None,
    emergency_confirmed: bool | None = None,
    incidents_in_window: int = 0,
) -> PriorityDecision:
    """Give a report its priority under the landlord's policy.

    Args:
        classification: What :func:`triage.classifier.classify` made of the words.
        policy: The landlord's service standard.
        risk: The risk assessment, once the reporter has answered it.
        reporter_says_hate: The reporter's answer to "Do you think this happened because of
            who you are?". ``True`` always makes it a hate incident (R-04); ``False`` does not
            remove hostility found in the words (an officer reviews it).
        emergency_confirmed: The reporter's answer to "Are you in danger right now?".
            ``True`` makes it an emergency; ``False`` clears an emergency read from the words
            (the report is still prioritised on its category and severity).
        incidents_in_window: Incidents on this case within the policy's case-review window;
            at the case-review threshold a severity-dependent category rises (R-12).

    Returns:
        The decision with its reasons.
    """
    reasons: list[str] = []
    hate = classification.hate or reporter_says_hate is True
    if classification.hate:
        reasons.extend(r for r in classification.reasons if r.startswith("hate"))
    if reporter_says_hate is True:
        reasons.append("hate: the reporter perceives it as hate (their perception decides)")
    elif reporter_says_hate is False and classification.hate:
        reasons.append("hate words found although the reporter said no: kept for an officer")

    emergency = (
        emergency_confirmed if emergency_confirmed is not None else classification.emergency
    )
    if emergency_confirmed is True:
        reasons.append("emergency: the reporter says they are in danger now")
    elif emergency_confirmed is False and classification.emergency:
        reasons.append("emergency words found but the reporter says they are not in danger now")
    elif emergency:
        reasons.extend(r for r in classification.reasons if r.startswith("emergency"))

    domestic = Category.DOMESTIC_ABUSE in classification.categories[:2]
    if domestic:
        reasons.append("domestic abuse: use the domestic abuse pathway (no DASH by text)")

    category = Category.HATE_INCIDENT if hate else classification.category
    if hate or emergency:
        priority = Priority.P1
        reasons.append(
            f"{priority.value} ({PRIORITY_WORDS[priority]}): "
            + ("hate is always the top priority" if hate else "immediate danger")
        )
        return PriorityDecision(
            priority=priority,
            category=category,
            hate=hate,
            call_999=emergency,
            self_help_advice=False,
            domestic_abuse=domestic,
            reasons=tuple(reasons),
        )

    rule = policy.categories[category]
    read = classification.matched or classification.has(*_raising().unmatched_raise_with)
    priority = rule.priority if read else _raising().unmatched
    reasons.append(
        f"{priority.value} ({PRIORITY_WORDS[priority]}): category {category.value} in the policy"
        if read
        else f"{priority.value} ({PRIORITY_WORDS[priority]}): no category words found yet"
    )
    if rule.severity_dependent:
        why = _severity_reasons(classification, risk, incidents_in_window, policy)
        if why and _rank(rule.raised_priority) < _rank(priority):
            priority = rule.raised_priority
            reasons.append(f"raised to {priority.value}: " + "; ".join(why))
        elif classification.has("repeated") and not why:
            reasons.append("frequency alone does not raise the priority")
    at = _raising().any_category_p1_at
    if (
        category is not Category.NOT_ASB
        and risk is not None
        and risk.level is at
        and priority is not Priority.P1
    ):
        priority = Priority.P1
        reasons.append(f"raised to P1: {risk.level.value} risk of harm")
    return PriorityDecision(
        priority=priority,
        category=category,
        hate=False,
        call_999=False,
        self_help_advice=category is Category.NOT_ASB,
        domestic_abuse=domestic,
        reasons=tuple(reasons),
    )


def _rank(priority: Priority) -> int:
    """P1 ranks 1: lower is more urgent."""
    return int(priority.value[1:])
