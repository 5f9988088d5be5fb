"""The risk-assessment questionnaire (R-03)."""

from __future__ import annotations

import pytest

from triage.policy import RiskThresholds
from triage.risk import assess_risk, risk_questions
from triage.taxonomy import RiskLevel

THRESHOLDS = RiskThresholds(medium_at=4, high_at=8)
ALL_YES = {q.id: True for q in risk_questions()}


def test_the_questionnaire_covers_the_matrix() -> None:
    ids = {q.id for q in risk_questions()}
    assert ids == {
        "unsafe_at_home",
        "targeted",
        "repeat_victim",
        "health_affected",
        "disability_or_illness",
        "children_or_vulnerable",
        "isolated",
        "fear_of_reprisal",
        "reported_before",
    }


@pytest.mark.parametrize("question", risk_questions(), ids=lambda q: q.id)
def test_questions_fit_one_sms_and_end_with_a_question_mark(question: object) -> None:
    text = question.text  # type: ignore[attr-defined]
    assert len(text) <= 160
    assert text.endswith("?")
    assert text.isascii()


@pytest.mark.parametrize(
    ("answers", "level", "score"),
    [
        ({}, RiskLevel.STANDARD, 0),
        ({"reported_before": True, "isolated": True}, RiskLevel.STANDARD, 2),
        ({"unsafe_at_home": True, "isolated": True}, RiskLevel.MEDIUM, 4),
        ({"unsafe_at_home": True, "targeted": True, "health_affected": True}, RiskLevel.MEDIUM, 7),
        (
            {"unsafe_at_home": True, "targeted": True, "health_affected": True, "isolated": True},
            RiskLevel.HIGH,
            8,
        ),
        (ALL_YES, RiskLevel.HIGH, sum(q.weight for q in risk_questions())),
        ({q: False for q in ALL_YES}, RiskLevel.STANDARD, 0),
    ],
)
def test_score_and_level(answers: dict[str, bool], level: RiskLevel, score: int) -> None:
    assessment = assess_risk(answers, THRESHOLDS)
    assert assessment.level is level
    assert assessment.score == score
    assert assessment.support_referral is (level is RiskLevel.HIGH)


def test_unanswered_questions_score_nothing_but_are_listed() -> None:
    assessment = assess_risk({"unsafe_at_home": True, "targeted": None}, THRESHOLDS)
    assert assessment.score == 3
    assert "targeted" in assessment.unanswered
    assert "unsafe_at_home" not in assessment.unanswered
    assert any("not answered" in reason for reason in assessment.reasons)


def test_thresholds_come_from_the_policy() -> None:
    answers = {"unsafe_at_home": True}
    assert assess_risk(answers, RiskThresholds(medium_at=3, high_at=5)).level is RiskLevel.MEDIUM
    assert assess_risk(answers, RiskThresholds(medium_at=1, high_at=3)).level is RiskLevel.HIGH


def test_high_risk_reasons_say_refer_to_support() -> None:
    assessment = assess_risk(ALL_YES, THRESHOLDS)
    assert any("refer to support" in reason for reason in assessment.reasons)
    assert any(reason.startswith("risk +3: Do you feel unsafe") for reason in assessment.reasons)


def test_an_unknown_question_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown risk question ids: feels_sad"):
        assess_risk({"feels_sad": True}, THRESHOLDS)
