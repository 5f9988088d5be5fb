"""Reading a reporter's answer to the satisfaction survey (R-14).

The survey is TP12's question ("How satisfied or dissatisfied are you with our approach to
handling anti-social behaviour?") on a five-point scale, 1 very satisfied to 5 very
dissatisfied. A reply is taken as the answer only if this identity has an unanswered survey
from the last ``policy.survey.answer_within`` and the reply reads as a point on the scale;
anything else is left to the intake conversation.
"""

from __future__ import annotations

import re
from datetime import datetime

from casework.context import CaseworkContext
from storage.models import AuditEvent, ChannelIdentity
from storage.repositories import SurveyRepository
from storage.uow import UnitOfWork

SCALE_WORDS: dict[str, int] = {
    "very satisfied": 1,
    "fairly satisfied": 2,
    "satisfied": 2,
    "neither satisfied nor dissatisfied": 3,
    "neither": 3,
    "fairly dissatisfied": 4,
    "dissatisfied": 4,
    "very dissatisfied": 5,
}
"""The scale's words as reporters type them back (longest phrase wins)."""

_NUMBER = re.compile(r"^\s*([1-5])(?:\s*[.):-]|\s|$)")


def parse_score(text: str) -> int | None:
    """The point on the scale a reply gives: "2", "2 - fine", "Very dissatisfied"; else None."""
    match = _NUMBER.match(text)
    if match:
        return int(match.group(1))
    words = " ".join(re.sub(r"[^a-z ]", " ", text.lower()).split())
    for phrase in sorted(SCALE_WORDS, key=len, reverse=True):
        if words == phrase or words.startswith(phrase + " "):
            return SCALE_WORDS[phrase]
    return None


async def record_survey_answer(
    uow: UnitOfWork,
    identity: ChannelIdentity,
    text: str,
    now: datetime,
    *,
    casework: CaseworkContext,
) -> str | None:
    """Store a reply as the answer to this identity's open survey.

    Call it for a reporter's message before the intake conversation runs, when no report is in
    progress; if it returns text, send that and stop.

    Returns:
        The thank-you to send, or None if the message is not a survey answer.
    """
    since = casework.calendar.before(now, casework.policy.survey.answer_within)
    survey = await SurveyRepository(uow.session).awaiting_answer(identity.id, since)
    if survey is None:
        return None
    score = parse_score(text)
    if score is None:
        return None
    survey.score, survey.answered_at, survey.answer_text = score, now, text.strip()[:2000]
    uow.session.add(
        AuditEvent(
            at=now,
            actor=f"reporter:{identity.id}",
            action="survey.answered",
            case_id=survey.case_id,
            detail={"question": survey.question, "score": score},
        )
    )
    await uow.session.flush()
    return casework.texts.text("reporter.survey.thanks")
