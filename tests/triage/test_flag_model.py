"""The flag model: a second opinion on hate, emergency and not-ASB (R-02, R-04, R-15)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from triage import classifier
from triage.category_model import FlagModel, flag_features
from triage.classifier import classify
from triage.text import normalise


def _sure_of(flag: str) -> None:
    """A model sure of ``flag`` (and silent on the others) whenever "zzq" is in a report."""
    classifier.use_flag_model(
        FlagModel(
            bias={flag: -10.0},
            weights={flag: {"zzq": 20.0}},
            thresholds={flag: 0.95},
        )
    )


@pytest.fixture(autouse=True)
def _shipped_after() -> Iterator[None]:
    yield
    classifier.use_shipped_flag_model()


def test_shipped_model_loads_with_thresholds() -> None:
    model = FlagModel.shipped()
    assert set(model.thresholds) == {"hate", "emergency", "not_asb"}
    assert all(0.5 <= t < 1 for t in model.thresholds.values())
    found = flag_features(normalise("he has a knife and is at my door").words)
    assert 0.0 <= model.probability("emergency", found) <= 1.0


def test_second_opinion_raises_emergency_with_its_words() -> None:
    _sure_of("emergency")
    result = classify("zzq outside the flats")
    assert result.emergency
    assert result.emergency_kinds == ("second_opinion",)
    assert any("second opinion" in r and "'zzq'" in r for r in result.reasons)


def test_second_opinion_on_hate_needs_a_group_named() -> None:
    _sure_of("hate")
    assert not classify("zzq keeps shouting at me").hate
    named = classify("zzq by the polish family upstairs")
    assert named.hate
    assert named.category.value == "hate_incident"
    assert any(r.startswith("hate (strand not named) (second opinion") for r in named.reasons)


def test_second_opinion_on_not_asb_needs_everyday_words_and_no_harm() -> None:
    _sure_of("not_asb")
    assert not classify("zzq the bins are out").not_asb  # no everyday-living words
    assert classify("zzq the baby next door cries in the afternoon").not_asb
    assert not classify("zzq he punched me while the baby next door cried").not_asb


def test_rules_alone_when_the_model_is_switched_off() -> None:
    classifier.use_flag_model(None)
    result = classify("someone is outside")
    assert not any("second opinion" in r for r in result.reasons)
