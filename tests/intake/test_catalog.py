"""Every word the bot says comes from the catalog, and SMS prompts fit one GSM-7 segment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from intake.conversation.catalog import CATALOG_DIR, Catalog
from intake.conversation.questions import QUESTIONS, View, option_label_key
from intake.messages import Channel, Option, Reply
from intake.render import render_sms
from intake.settings import load_settings
from intake.sms import segments
from tests.conftest import REPO
from triage import classify

POLICY = load_settings(REPO / "config.yaml", {}).policy
CATALOG = Catalog.load("en")
MULTI_SEGMENT_ALLOWED = {"risk": 3}
"""The risk checklist lists nine statements: one segment cannot hold them (R-03)."""

VIEWS = {
    "noise": View({}, classify("loud music every night"), Channel.SMS, POLICY),
    "hate graffiti": View({"category": "graffiti", "hate": "yes"},
                          classify("racist graffiti on my door"), Channel.SMS, POLICY),
    "third party": View({"for_whom": "someone_else", "tenant_consent": "yes"},
                        classify("I'm writing for my mum, they keep threatening her"),
                        Channel.SMS, POLICY),
    "not asb": View({}, classify("I can smell their cooking"), Channel.SMS, POLICY),
}


def sms_prompt(view: View, question_id: str) -> str:
    question = next(q for q in QUESTIONS if q.id == question_id)
    options = tuple(
        Option(value, CATALOG.text(key, **params))
        for value in question.options(view)
        for key, params in [option_label_key(question, value)]
    )
    reply = Reply(CATALOG.text(question.prompt_key(view)), options=options,
                  multiple=question.kind == "multi")
    [body] = render_sms([reply])
    return body


@pytest.mark.parametrize("view_name", sorted(VIEWS))
@pytest.mark.parametrize("question_id", [q.id for q in QUESTIONS])
def test_every_sms_prompt_fits_one_segment(view_name: str, question_id: str) -> None:
    size = segments(sms_prompt(VIEWS[view_name], question_id))
    assert size.encoding == "GSM-7"
    assert size.segments <= MULTI_SEGMENT_ALLOWED.get(question_id, 1), (question_id, size)


def test_every_key_the_code_uses_is_in_the_catalog() -> None:
    used: set[str] = set()
    for path in (REPO / "intake").rglob("*.py"):
        used |= set(re.findall(r"""(?:say|urgent|text|_ask_special)\(\s*(?:turn,\s*)?["']([a-z_]+(?:\.[a-z_0-9]+)+)["']""",
                               path.read_text(encoding="utf-8")))
    missing = sorted(k for k in used if not CATALOG.has(k))
    assert used and missing == []


def test_every_question_and_option_has_text() -> None:
    for view in VIEWS.values():
        for question in QUESTIONS:
            assert CATALOG.has(question.prompt_key(view)), question.id
            for value in question.options(view):
                key, _ = option_label_key(question, value)
                assert CATALOG.has(key), (question.id, value)


def test_each_language_file_has_every_english_key() -> None:
    english = set(CATALOG.texts)
    for path in Path(CATALOG_DIR).glob("*.yaml"):
        other = Catalog.load(path.stem)
        assert set(other.texts) >= english, path.name
