"""Priority from category, hate, danger, severity and risk (R-04, R-05, R-12, R-15)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from triage import classify, decide_priority, triage_report
from triage.calendar import WorkingCalendar
from triage.policy import Policy, RiskThresholds
from triage.risk import assess_risk
from triage.taxonomy import Category, Priority

P1, P2, P3 = Priority.P1, Priority.P2, Priority.P3
LONDON = ZoneInfo("Europe/London")

PRIORITY_CASES = [
    # the samples' own rules
    ("lads on the corner shouted racist names at my wife this morning", P1),
    ("there is a man smashing car windows in the car park right now", P1),
    ("neighbour threatened to burn my car", P1),
    ("Every evening there are people using drugs in the car park and leaving needles.", P1),
    ("tags sprayed on the fence by the allotments", P2),
    ("The tenant below plays his TV very loudly until 1am most nights.", P2),
    ("kids knocking on doors and running away, every night this week", P2),
    ("motorbikes riding on the grass by the flats every night", P2),
    ("My neighbour's dogs bark for hours while she is at work.", P2),
    ("the smell of their cooking comes through the vents", P3),
    ("toddler upstairs running about in the mornings", P3),
    # shorthand
    ("nabour threatend 2 stab me", P1),
    ("loud musik every nite", P2),
    ("dealin from no 12", P1),
    # severity raises a severity-dependent category
    ("their dog bit my daughter on the stairs, she needed stitches", P1),
    ("the dog at 19 is always loose and barks at people", P2),
    ("woman at 14 swore at me over the bins", P2),
    ("neighbour screams abuse at my 90yr old mum who lives alone, shes terrified", P1),
    ("gang of lads outside every night, threw a bottle at me and im scared to go out", P1),
    ("wing mirror smashed on my van overnight", P2),
    # tricky
    ("the Muslim family upstairs play loud music", P2),
    ("The Chinese takeaway customers park on the pavement outside my house", P2),
    ("the noise is killing me", P2),
    ("fire alarm testing every monday morning", P3),
    ("my neighbour puts her bins out on the wrong day", P3),
    ("cats from next door keep pooing in my garden", P2),
    ("someone has put a note through my door saying watch your back", P1),
    ("he stood at my window staring in for ages, its really freaking me out", P1),
    ("the lady next door is controlled by her son, he takes her pension", P1),
    # persistent ASB against a vulnerable person; frequency or vulnerability alone does not
    ("my dad is 89 and terminally ill and the flat above has music till 4am most nights", P1),
    ("music till 4am most nights from the flat above", P2),
    ("the dog at 12 chased my son down the road snapping at his legs", P1),
    ("drum and bass till 4 every weekend, the walls are shaking", P2),
    ("my neighbour's son plays shooting games with the sound up until 2am", P2),
]


def test_a_report_with_no_category_words_waits_at_p2_not_p3(policy: Policy) -> None:
    classification = classify("hello I want to report something")
    decision = decide_priority(classification, policy)
    assert decision.priority is P2
    assert not decision.self_help_advice
    assert "no category words found yet" in decision.reasons[-1]


@pytest.mark.parametrize(("text", "priority"), PRIORITY_CASES)
def test_priority(text: str, priority: Priority, policy: Policy) -> None:
    decision = decide_priority(classify(text), policy)
    assert decision.priority is priority, decision.reasons
    assert decision.reasons


def test_frequency_alone_does_not_raise_noise(policy: Policy) -> None:
    decision = decide_priority(classify("loud music every single night"), policy)
    assert decision.priority is P2
    assert "frequency alone does not raise the priority" in decision.reasons


def test_reporter_saying_hate_always_makes_it_hate(policy: Policy) -> None:
    classification = classify("someone left an old sofa in the bin store")
    decision = decide_priority(classification, policy, reporter_says_hate=True)
    assert decision.priority is P1
    assert decision.hate
    assert decision.category is Category.HATE_INCIDENT
    assert any("their perception decides" in reason for reason in decision.reasons)


def test_reporter_saying_hate_lifts_even_not_asb(policy: Policy) -> None:
    classification = classify("the smell of their cooking comes through the vents")
    assert decide_priority(classification, policy, reporter_says_hate=True).priority is P1


def test_reporter_saying_no_does_not_remove_hate_found_in_the_words(policy: Policy) -> None:
    classification = classify("he keeps calling my son a p*ki")
    decision = decide_priority(classification, policy, reporter_says_hate=False)
    assert decision.priority is P1
    assert decision.hate


def test_emergency_is_p1_with_call_999(policy: Policy) -> None:
    decision = decide_priority(classify("hes outside my door rn with a knife"), policy)
    assert decision.priority is P1
    assert decision.call_999


def test_reporter_confirming_danger_makes_it_an_emergency(policy: Policy) -> None:
    decision = decide_priority(classify("loud music"), policy, emergency_confirmed=True)
    assert decision.call_999
    assert decision.priority is P1


def test_reporter_denying_danger_clears_the_emergency(policy: Policy) -> None:
    classification = classify("kids setting fire to the bins right now")
    assert classification.emergency
    decision = decide_priority(classification, policy, emergency_confirmed=False)
    assert not decision.call_999


def test_not_asb_gets_self_help_advice(policy: Policy) -> None:
    decision = decide_priority(classify("baby next door crying all night"), policy)
    assert decision.priority is P3
    assert decision.self_help_advice


def test_domestic_abuse_uses_its_own_pathway(policy: Policy) -> None:
    decision = decide_priority(classify("my boyfriend hits me when hes drunk"), policy)
    assert decision.priority is P1
    assert decision.domestic_abuse


@pytest.mark.parametrize(
    ("answers", "priority"),
    [
        ({}, P2),
        ({"reported_before": True}, P2),
        ({"unsafe_at_home": True, "isolated": True}, P1),
    ],
)
def test_medium_or_high_risk_raises_a_severity_dependent_category(
    answers: dict[str, bool], priority: Priority, policy: Policy
) -> None:
    risk = assess_risk(answers, policy.risk)
    decision = decide_priority(classify("loud music every night"), policy, risk=risk)
    assert decision.priority is priority


def test_high_risk_raises_any_category(policy: Policy) -> None:
    risk = assess_risk({q: True for q in ("unsafe_at_home", "targeted", "health_affected",
                                          "isolated")}, RiskThresholds())
    decision = decide_priority(classify("mattress dumped by the garages"), policy, risk=risk)
    assert decision.priority is P1
    assert any("high risk" in reason for reason in decision.reasons)


@pytest.mark.parametrize(("incidents", "priority"), [(0, P2), (2, P2), (3, P1), (5, P1)])
def test_repeat_incidents_raise_at_the_case_review_threshold(
    incidents: int, priority: Priority, policy: Policy
) -> None:
    decision = decide_priority(
        classify("kids kicking a ball against my wall"), policy, incidents_in_window=incidents
    )
    assert decision.priority is priority


def test_policy_decides_the_category_table(policy: Policy) -> None:
    rules = dict(policy.categories)
    rules[Category.VEHICLE_NUISANCE] = rules[Category.VEHICLE_NUISANCE].model_copy(
        update={"priority": P1}
    )
    strict = policy.model_copy(update={"categories": rules})
    classification = classify("abandoned car in the car park")
    assert decide_priority(classification, policy).priority is P2
    assert decide_priority(classification, strict).priority is P1


@pytest.mark.parametrize(
    ("text", "received", "deadline"),
    [
        # Friday morning, P1: close of business on the next working day (Monday)
        ("neighbour threatened to stab me", datetime(2026, 11, 20, 10, 0), datetime(2026, 11, 23, 17, 0)),
        # P2: five working days
        ("loud music every night", datetime(2026, 11, 16, 10, 0), datetime(2026, 11, 23, 17, 0)),
        # P3 over Christmas: bank holidays do not count
        ("baby next door crying", datetime(2026, 12, 21, 10, 0), datetime(2027, 1, 7, 17, 0)),
    ],
)
def test_triage_report_gives_the_first_contact_deadline(
    text: str, received: datetime, deadline: datetime, policy: Policy
) -> None:
    calendar = WorkingCalendar.from_policy(policy)
    result = triage_report(text, policy, calendar, received.replace(tzinfo=LONDON), "sms")
    expected = calendar.deadline(
        received.replace(tzinfo=LONDON), policy.priorities[result.priority].first_contact
    )
    assert result.first_contact_by == expected
    assert result.first_contact_by.replace(tzinfo=None) == deadline


def test_triage_report_combines_classification_risk_and_priority(policy: Policy) -> None:
    calendar = WorkingCalendar.from_policy(policy)
    result = triage_report(
        "loud music every night",
        policy,
        calendar,
        datetime(2026, 11, 16, 10, 0, tzinfo=LONDON),
        risk_answers={"unsafe_at_home": True, "isolated": True},
    )
    assert result.priority is P1
    assert result.risk is not None
    assert result.category is Category.NOISE
    assert result.reasons[-1].startswith("raised to P1")
