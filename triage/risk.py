"""The ASB risk-assessment questionnaire (R-03).

Every report is risk-assessed with the reporter: risk of harm, vulnerability and support needs.
The questions (ids, plain SMS-friendly wording, weights) are in ``data/risk_questions.yaml``;
the thresholds that turn a score into a level are the landlord's policy
(:class:`triage.policy.RiskThresholds`). A high risk means a referral to support services.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from triage.policy import RiskThresholds
from triage.taxonomy import RiskLevel
from triage.vocabulary import load_data


@dataclass(frozen=True, slots=True)
class RiskQuestion:
    """One yes/no question of the questionnaire.

    Attributes:
        id: Stable code used in storage and answers, e.g. ``"unsafe_at_home"``.
        text: The question as sent to the reporter.
        weight: Points a "yes" adds to the score.
        kind: Kind of vulnerability: personal, situational or incidental (UPSI, 2013).
    """

    id: str
    text: str
    weight: int
    kind: str


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """The outcome of the questionnaire.

    Attributes:
        score: Sum of the weights of the "yes" answers.
        level: Standard, medium or high, from the policy's thresholds.
        support_referral: True when the risk is high: refer to support services.
        answered_yes: Ids of the questions answered yes.
        unanswered: Ids of the questions not answered (scored 0, listed for follow-up).
        reasons: Human-readable lines explaining the score and level.
    """

    score: int
    level: RiskLevel
    support_referral: bool
    answered_yes: tuple[str, ...]
    unanswered: tuple[str, ...]
    reasons: tuple[str, ...]


_KINDS = frozenset({"personal", "situational", "incidental"})


@lru_cache(maxsize=1)
def risk_questions() -> tuple[RiskQuestion, ...]:
    """The questionnaire, in the order it is asked.

    Returns:
        The questions from ``data/risk_questions.yaml``.

    Raises:
        ValueError: If the data file has a duplicate id, a bad weight or an unknown kind.
    """
    questions = tuple(
        RiskQuestion(
            id=str(item["id"]),
            text=str(item["text"]),
            weight=int(item["weight"]),
            kind=str(item["kind"]),
        )
        for item in load_data("risk_questions.yaml")["questions"]
    )
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise ValueError("risk_questions.yaml: question ids must be unique")
    for question in questions:
        if question.weight <= 0 or question.kind not in _KINDS:
            raise ValueError(f"risk_questions.yaml: bad weight or kind for {question.id!r}")
    return questions


def assess_risk(answers: Mapping[str, bool | None], thresholds: RiskThresholds) -> RiskAssessment:
    """Score the reporter's answers and give a risk level.

    Args:
        answers: Question id to the reporter's answer; ``None`` or a missing id means not
            answered (scores 0, listed in ``unanswered``).
        thresholds: The policy's ``risk`` thresholds.

    Returns:
        The assessment with score, level, referral flag and reasons.

    Raises:
        ValueError: If an answer names a question that does not exist, which would otherwise
            be silently lost.
    """
    questions = risk_questions()
    unknown = set(answers) - {q.id for q in questions}
    if unknown:
        raise ValueError(f"unknown risk question ids: {', '.join(sorted(unknown))}")
    score = 0
    yes: list[str] = []
    unanswered: list[str] = []
    reasons: list[str] = []
    for question in questions:
        answer = answers.get(question.id)
        if answer is None:
            unanswered.append(question.id)
        elif answer:
            score += question.weight
            yes.append(question.id)
            reasons.append(f"risk +{question.weight}: {question.text} yes")
    level = (
        RiskLevel.HIGH
        if score >= thresholds.high_at
        else RiskLevel.MEDIUM
        if score >= thresholds.medium_at
        else RiskLevel.STANDARD
    )
    reasons.append(
        f"risk {level.value}: score {score} (medium from {thresholds.medium_at}, "
        f"high from {thresholds.high_at})"
    )
    if unanswered:
        reasons.append(f"not answered (scored 0): {', '.join(unanswered)}")
    support = level is RiskLevel.HIGH
    if support:
        reasons.append("high risk: refer to support services")
    return RiskAssessment(
        score=score,
        level=level,
        support_referral=support,
        answered_yes=tuple(yes),
        unanswered=tuple(unanswered),
        reasons=tuple(reasons),
    )
