"""Casework's words come from its catalog; reporter texts are plain and fit one SMS segment."""

from __future__ import annotations

import re

import pytest

from casework.context import ReporterReach
from casework.jobs import _HEADLINES, SURVEY_SCALE
from casework.links import VERBS
from casework.texts import CATALOG_DIR, Texts
from intake.settings import load_settings
from intake.sms import segments
from tests.conftest import REPO

TEXTS = Texts.load("en")
POLICY = load_settings(REPO / "config.yaml", {}).policy
REPORTER_KEYS = sorted(k for k in TEXTS.texts if k.startswith("reporter."))
LIKELY = {
    "landlord": "Example Homes",
    "reference": "ASB-2026-000123",
    "days": "28",
    "reason": "we have taken all the action we can",
}
"""Values as long as real ones usually are."""


@pytest.mark.parametrize("key", REPORTER_KEYS)
def test_every_reporter_text_fits_one_gsm7_segment(key: str) -> None:
    filled = TEXTS.text(key, **{name: LIKELY[name] for name in TEXTS.placeholders(key)})
    size = segments(filled)
    assert (size.encoding, size.segments) == ("GSM-7", 1), (key, len(filled))


def test_the_survey_asks_the_tp12_question_in_its_own_words() -> None:
    assert TEXTS.text("reporter.survey.question").startswith(
        "How satisfied or dissatisfied are you with our approach to handling anti-social behaviour?"
    )
    assert [TEXTS.text(f"survey.option.{n}") for n in SURVEY_SCALE] == [
        "Very satisfied",
        "Fairly satisfied",
        "Neither satisfied nor dissatisfied",
        "Fairly dissatisfied",
        "Very dissatisfied",
    ]


def test_every_key_the_code_uses_is_in_the_catalog() -> None:
    used: set[str] = set()
    for path in (REPO / "casework").glob("*.py"):
        used |= set(
            re.findall(r"""text\(\s*["']([a-z_]+(?:\.[a-z_0-9]+)+)["']""", path.read_text())
        )
    used |= {f"closure.reason.{reason}" for reason in POLICY.closure.reasons}
    used |= {f"unreachable.{why}" for why in ("anonymous", "opted_out", "not_safe", "no_channel")}
    used |= {f"links.{verb}" for verb in VERBS}
    used |= {f"survey.option.{n}" for n in SURVEY_SCALE}
    used |= set(_HEADLINES.values()) | {"alert.headline.other"}
    assert len(used) > 60
    assert sorted(used - set(TEXTS.texts)) == []
    assert ReporterReach().unreachable is None


def test_a_missing_key_or_value_fails_loudly() -> None:
    with pytest.raises(KeyError, match="no text 'nope'"):
        TEXTS.text("nope")
    with pytest.raises(KeyError, match="needs 'reference'"):
        TEXTS.text("reporter.closure_check", landlord="x", days="28")
    assert (CATALOG_DIR / "en.yaml").is_file()
