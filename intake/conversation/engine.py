"""The conversation engine: a pure function of (state, message, context) → result.

No I/O, no clock reads, no randomness: the time, the policy, the calendar and what the
service knows about the sender's cases all come in through :class:`Context`. The same inputs
always give the same replies and effects, so every step and command is tested with tables.

The flow (issue 4): describe → (999 first if in danger) → confirm the category → for whom →
what, when, how often, where, who, evidence → the hate question, always → graffiti details →
risk checklist or the domestic-abuse pathway → consent, anonymity, contact, support,
adjustments → summary → acknowledgement with reference, priority and a date. Not-ASB reports
get kind advice and are recorded at P3. Email asks every remaining question in one message.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from intake.answers import (
    Answer,
    parse_choice,
    parse_choices,
    parse_numbered_answers,
    parse_yes_no,
)
from intake.conversation.catalog import Catalog
from intake.conversation.effects import (
    REFERENCE_TOKEN,
    AddIncident,
    CaseDraft,
    Effect,
    EndAdvocacy,
    FlagForOfficer,
    KeepEvidence,
    NominateAdvocate,
    OptIn,
    OptOut,
    RequestCallback,
    SaveCase,
)
from intake.conversation.questions import (
    BY_ID,
    CHANGEABLE,
    QUESTIONS,
    Question,
    View,
    option_label_key,
)
from intake.conversation.state import ConversationState
from intake.messages import Channel, InboundMessage, Option, Reply
from triage import (
    Classification,
    TriageResult,
    assess_risk,
    classify,
    decide_priority,
    risk_questions,
    triage_report,
)
from triage.calendar import WorkingCalendar
from triage.policy import Policy
from triage.taxonomy import PRIORITY_WORDS, Category, Priority

REFERENCE_RE = re.compile(r"\bASB[-\s]?(\d{4})[-\s]?(\d{1,6})\b", re.IGNORECASE)
_GREETING_RE = re.compile(
    r"^\s*(hi|hello|hey|hiya|good (morning|afternoon|evening)|help me|report|i want to report"
    r"( something)?|start|/start)\W*$",
    re.IGNORECASE,
)
_MAX_UNCLEAR = 2
_MAX_EMAIL_ROUNDS = 3


@dataclass(frozen=True)
class KnownCase:
    """What the service found about a case the message refers to."""

    reference: str
    authorised: bool
    """The sender reported the case or is its nominated advocate."""
    open: bool
    role: str | None = None
    """tenant (the person the case is about), advocate (acting for them) or reporter."""


@dataclass(frozen=True)
class Allocation:
    """The officer a new case would go to."""

    officer_id: str
    officer_name: str


@dataclass(frozen=True)
class Context:
    """Everything a step may know besides the state and the message."""

    policy: Policy
    calendar: WorkingCalendar
    catalog: Catalog
    now: datetime
    landlord: str = "your landlord"
    idle_timeout: timedelta = timedelta(hours=2)
    known_case: KnownCase | None = None
    own_case: KnownCase | None = None
    """The sender's own most recent open case, as its tenant or advocate (for CHANGE ADVOCATE)."""
    """A case named in the message (``ref ASB-…``) or by email threading."""
    open_case: str | None = None
    """The sender's most recent open case, for a reply to the acknowledgement."""
    earlier_not_asb: tuple[str, ...] = ()
    """Earlier not-ASB reports by this sender within the policy's window (R-15)."""
    allocate: Callable[[str | None, Priority], Allocation | None] = lambda area, priority: None
    """Which officer a case in ``area`` at ``priority`` would go to (pure, from the service)."""


@dataclass(frozen=True)
class StepResult:
    """The outcome of one step."""

    state: ConversationState
    replies: tuple[Reply, ...]
    effects: tuple[Effect, ...] = ()


@dataclass
class _Turn:
    """Working space for one step."""

    state: ConversationState
    message: InboundMessage
    ctx: Context
    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)

    def say(self, key: str, **params: Any) -> None:
        self.replies.append(Reply(self.ctx.catalog.text(key, landlord=self.ctx.landlord, **params)))

    def urgent(self, key: str, **params: Any) -> None:
        self.replies.append(Reply(self.ctx.catalog.text(key, **params), urgent=True))

    def result(self) -> StepResult:
        self.state.last_activity = self.ctx.now.isoformat()
        return StepResult(self.state, tuple(self.replies), tuple(self.effects))


# --- entry points -------------------------------------------------------------------------


def needs(state: ConversationState, message: InboundMessage) -> frozenset[str]:
    """Which facts about the sender's cases this step may use, so the service loads only those.

    ``own_case``: their open case, for CHANGE ADVOCATE; ``submission``: earlier not-ASB
    reports and officer loads, for a report that may be finished this step; ``last_case``:
    whether the last report is still open, for a reply after the acknowledgement.
    """
    wanted = set()
    if _command(message.text) == "change_advocate":
        wanted.add("own_case")
    if state.status in ("asking", "confirming") or state.awaiting:
        wanted.add("submission")
    if state.status == "done":
        wanted.add("last_case")
    return frozenset(wanted)



def step(state: ConversationState, message: InboundMessage, ctx: Context) -> StepResult:
    """Answer one message.

    Args:
        state: where the conversation had got to (not modified; a copy is returned).
        message: what the reporter sent.
        ctx: policy, calendar, catalog, the time now and what the service knows.

    Returns:
        The new state, the replies in order (safety text first) and the effects to carry out.
    """
    turn = _Turn(
        dataclasses.replace(
            state,
            answers=dict(state.answers),
            prefilled=list(state.prefilled),
            history=list(state.history),
            pending=list(state.pending),
        ),
        message,
        ctx,
    )
    if message.channel is Channel.EMAIL:
        turn.state.batch = True
    text = message.text.strip()
    command = _command(text)
    if command is not None:
        COMMANDS[command](turn)
        return turn.result()
    if turn.state.status == "stopped":
        if message.attachments or text:
            _keep_quietly(turn, text)
        return turn.result()
    if message.attachments:
        _keep_attachments(turn)
        if not text:
            _reask(turn)
            return turn.result()
    if ctx.known_case is not None and turn.state.awaiting != "incident_text":
        _to_known_case(turn, ctx.known_case, text)
        return turn.result()
    _resume_after_gap(turn)
    handler = AWAITING.get(turn.state.awaiting or "") or STATUS.get(turn.state.status, _describe)
    handler(turn, text)
    return turn.result()


def on_idle(state: ConversationState, ctx: Context) -> StepResult:
    """The reporter went quiet: save a partial report, flagged if it shows any risk.

    Called by the idle-timeout job. Nothing is ever dropped: a partial report with a
    description becomes an ``incomplete`` case; one with a risk signal also alerts an officer.
    """
    turn = _Turn(
        dataclasses.replace(state, answers=dict(state.answers)),
        InboundMessage(Channel.TERMINAL, "", "", "", ctx.now),
        ctx,
    )
    if state.status in ("describing", "asking", "confirming", "exited") and state.description:
        _save_partial(turn)
    return StepResult(turn.state, (), tuple(turn.effects))


# --- commands -------------------------------------------------------------------------------

_COMMAND_WORDS: dict[str, tuple[str, ...]] = {
    "help": ("help", "info", "?"),
    "stop": ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"),
    "start": ("start", "unstop", "yes start"),
    "start_over": ("start over", "startover", "restart", "start again", "new report"),
    "human": (
        "human",
        "speak to someone",
        "talk to someone",
        "speak to a person",
        "talk to a person",
        "call me",
        "agent",
        "operator",
        "person",
        "callback",
        "call back",
    ),
    "exit": ("exit", "x", "leave", "hide"),
    "back": ("back", "go back", "undo"),
    "change_advocate": (
        "change advocate",
        "change my advocate",
        "new advocate",
        "remove advocate",
        "remove my advocate",
        "stop my advocate",
    ),
}
_COMMAND_INDEX = {word: name for name, words in _COMMAND_WORDS.items() for word in words}


def _command(text: str) -> str | None:
    normal = re.sub(r"[^\w? ]+", "", REFERENCE_RE.sub("", text).lower()).strip()
    normal = re.sub(r"\s+", " ", normal)
    return _COMMAND_INDEX.get(normal)


def _help(turn: _Turn) -> None:
    turn.say("help")
    if turn.state.status not in ("stopped",):
        _reask(turn)


def _stop(turn: _Turn) -> None:
    turn.effects.append(OptOut())
    if turn.state.status not in ("done", "new", "stopped") and turn.state.description:
        _save_partial(turn)
    turn.say("stop")
    turn.state.status = "stopped"


def _start(turn: _Turn) -> None:
    if turn.state.status == "stopped":
        turn.effects.append(OptIn())
        turn.say("start")
        turn.state.status = "done" if turn.state.last_case_ref else "new"
        if turn.state.status == "new":
            turn.say("ask.describe")
        return
    if turn.state.status in ("new", "done"):
        turn.say("greeting")
        turn.say("ask.describe")
        turn.state.status = "describing"
        return
    _reask(turn)


def _start_over(turn: _Turn) -> None:
    if turn.state.status in ("describing", "asking", "confirming") and turn.state.description:
        _save_partial(turn)
    last = turn.state.last_case_ref
    turn.state = ConversationState(
        status="describing",
        batch=turn.state.batch,
        last_case_ref=last,
        language=turn.state.language,
    )
    turn.say("start_over")


def _human(turn: _Turn) -> None:
    priority = turn.ctx.policy.priorities[Priority.P1].first_contact
    deadline = turn.ctx.calendar.deadline(turn.ctx.now, priority)
    when = turn.ctx.catalog.text("human.when", deadline=plain_date(deadline, turn.ctx))
    reference = turn.state.case_ref or turn.state.last_case_ref
    if turn.message.channel in (Channel.SMS, Channel.WHATSAPP):
        turn.effects.append(RequestCallback(number=turn.message.sender, reference=reference))
        turn.say("human", when=when)
        _reask(turn)
        return
    turn.say("human", when=when)
    turn.say("q.callback_number")
    turn.state.awaiting = "callback_number"


def _quick_exit(turn: _Turn) -> None:
    if turn.state.status in ("describing", "asking", "confirming") and turn.state.description:
        _save_partial(turn)
        turn.state.status = "exited"
    turn.state.awaiting = None
    turn.say("exit")


def _back(turn: _Turn) -> None:
    state = turn.state
    while state.history:
        previous = state.history.pop()
        if previous in state.prefilled:
            continue
        state.answers.pop(previous, None)
        state.status = "asking"
        state.awaiting = None
        turn.say("back")
        _ask_next(turn)
        return
    _reask(turn)


def _change_advocate(turn: _Turn) -> None:
    """R-07: a change of advocate is accepted only from the tenant, directly."""
    case = turn.ctx.known_case or turn.ctx.own_case
    if case is None or not case.authorised or not case.open:
        turn.say("advocate.no_case")
        return
    if case.role != "tenant":
        turn.say("advocate.only_tenant")
        return
    turn.effects.append(EndAdvocacy(reference=case.reference))
    turn.state.awaiting = "new_advocate"
    turn.state.held_text = case.reference
    turn.say("advocate.ended", reference=case.reference)


COMMANDS: dict[str, Callable[[_Turn], None]] = {
    "help": _help,
    "stop": _stop,
    "start": _start,
    "start_over": _start_over,
    "human": _human,
    "exit": _quick_exit,
    "back": _back,
    "change_advocate": _change_advocate,
}


# --- by status ------------------------------------------------------------------------------


def _describe(turn: _Turn, text: str) -> None:
    state = turn.state
    if state.status == "done" and state.last_case_ref and turn.ctx.open_case and text:
        state.held_text = text
        state.awaiting = "add_or_new"
        _ask_special(turn, "q.add_or_new", ("add", "new"), reference=turn.ctx.open_case)
        return
    if state.status in ("done", "exited"):
        last = state.last_case_ref
        turn.state = state = ConversationState(
            batch=state.batch, last_case_ref=last, language=state.language
        )
    if not text or _GREETING_RE.match(text) or len(text) < 3:
        if state.status == "new":
            turn.say("greeting")
            turn.say("ask.describe")
        else:
            turn.say("ask.describe.again")
        state.status = "describing"
        return
    _take_description(turn, text)


def _take_description(turn: _Turn, text: str) -> None:
    state = turn.state
    state.description = text
    state.received_at = state.received_at or turn.message.received_at.isoformat()
    state.status = "asking"
    view = _view(turn)
    for question in QUESTIONS:
        if question.id in state.answers or not question.applies(view):
            continue
        value = question.prefill(view, text)
        if value is not None:
            state.answers[question.id] = value
            state.prefilled.append(question.id)
    if state.answers.get("danger") == "yes":
        _emergency(turn)
    _ask_next(turn)


def _asking(turn: _Turn, text: str) -> None:
    state = turn.state
    if state.batch and len(state.pending) > 1:
        _take_batch_answers(turn, text)
        return
    if not state.pending:
        _ask_next(turn)
        return
    question = BY_ID[state.pending[0]]
    value = _parse(question, text, turn)
    if value is None:
        state.unclear += 1
        if state.unclear > _MAX_UNCLEAR:
            value = _give_up_value(question, text)
        else:
            turn.say("unclear.multi" if question.kind == "multi" else "unclear")
            _ask(turn, [question])
            return
    _record(turn, question, value)
    _after_answer(turn)


def _after_answer(turn: _Turn) -> None:
    if turn.state.correcting:
        turn.state.correcting = False
        if not _next_questions(turn):
            _confirm(turn)
            return
    _ask_next(turn)


def _confirming(turn: _Turn, text: str) -> None:
    value = parse_choice(
        text,
        _options(turn, ("send", "change")),
    ) or _yes_no_as(text, "send", "change")
    if turn.message.choice in ("send", "change"):
        value = turn.message.choice
    if value == "send":
        _submit(turn)
    elif value == "change":
        turn.state.awaiting = "change_which"
        _ask_special(turn, "q.change_which", _changeable(turn), labels="field.")
    else:
        turn.say("unclear")
        _confirm(turn)


def _done(turn: _Turn, text: str) -> None:
    _describe(turn, text)


STATUS: dict[str, Callable[[_Turn, str], None]] = {
    "new": _describe,
    "describing": _describe,
    "asking": _asking,
    "confirming": _confirming,
    "done": _done,
    "exited": _describe,
}


# --- special prompts ------------------------------------------------------------------------


def _add_or_new(turn: _Turn, text: str) -> None:
    value = (
        turn.message.choice
        or parse_choice(text, _options(turn, ("add", "new")))
        or _yes_no_as(text, "add", "new")
    )
    held, reference = turn.state.held_text, turn.ctx.open_case or turn.state.last_case_ref
    if value == "add" and reference:
        turn.state.awaiting, turn.state.held_text = None, ""
        turn.effects.append(AddIncident(reference=reference, description=held))
        turn.say("incident.added", reference=reference)
    elif value == "new":
        turn.state.awaiting, turn.state.held_text = None, ""
        last = turn.state.last_case_ref
        turn.state = ConversationState(batch=turn.state.batch, last_case_ref=last)
        _take_description(turn, held)
    else:
        turn.say("unclear")
        _ask_special(turn, "q.add_or_new", ("add", "new"), reference=reference)


def _change_which(turn: _Turn, text: str) -> None:
    choices = _changeable(turn)
    value = (
        turn.message.choice
        if turn.message.choice in choices
        else parse_choice(text, _options(turn, choices, labels="field."))
    )
    if value is None:
        turn.say("unclear")
        _ask_special(turn, "q.change_which", choices, labels="field.")
        return
    turn.state.awaiting = None
    if value == "description":
        turn.state.status = "describing"
        turn.state.correcting = True
        turn.say("ask.describe")
        turn.state.awaiting = "new_description"
        return
    turn.state.answers.pop(value, None)
    if value in turn.state.prefilled:
        turn.state.prefilled.remove(value)
    turn.state.status = "asking"
    turn.state.correcting = True
    _ask(turn, [BY_ID[value]])


def _new_description(turn: _Turn, text: str) -> None:
    turn.state.awaiting = None
    turn.state.description = text
    turn.state.status = "asking"
    turn.state.correcting = False
    _confirm(turn)


def _incident_text(turn: _Turn, text: str) -> None:
    reference = turn.state.held_text
    turn.state.awaiting, turn.state.held_text = None, ""
    if text:
        turn.effects.append(AddIncident(reference=reference, description=text))
        turn.say("incident.added", reference=reference)


def _callback_number(turn: _Turn, text: str) -> None:
    number = re.sub(r"[^\d+]", "", text)
    turn.state.awaiting = None
    if len(number) < 7:
        turn.say("unclear")
        turn.say("q.callback_number")
        turn.state.awaiting = "callback_number"
        return
    reference = turn.state.case_ref or turn.state.last_case_ref
    turn.effects.append(RequestCallback(number=number, reference=reference))
    turn.say("human.thanks")
    _reask(turn)


def _new_advocate(turn: _Turn, text: str) -> None:
    reference = turn.state.held_text
    turn.state.awaiting, turn.state.held_text = None, ""
    if not text or parse_yes_no(text) is Answer.NO or text.strip().lower() in ("none", "nobody"):
        turn.say("advocate.none", reference=reference)
        return
    turn.effects.append(NominateAdvocate(reference=reference, details=text))
    turn.say("advocate.nominated", reference=reference)


AWAITING: dict[str, Callable[[_Turn, str], None]] = {
    "add_or_new": _add_or_new,
    "change_which": _change_which,
    "new_description": _new_description,
    "incident_text": _incident_text,
    "callback_number": _callback_number,
    "new_advocate": _new_advocate,
}


# --- existing cases -------------------------------------------------------------------------


def _to_known_case(turn: _Turn, known: KnownCase, text: str) -> None:
    if not known.authorised:
        turn.say("case.not_available")
        return
    if not known.open:
        turn.say("case.closed")
        return
    rest = REFERENCE_RE.sub("", text)
    rest = re.sub(r"^\W*(re|ref|reference|case)\b\W*", "", rest, flags=re.IGNORECASE).strip()
    rest = re.sub(r"^\W+|\W+$", "", rest) if not re.search(r"\w", rest) else rest
    if rest:
        turn.effects.append(AddIncident(reference=known.reference, description=rest))
        turn.say("incident.added", reference=known.reference)
    elif not turn.message.attachments:
        turn.state.awaiting = "incident_text"
        turn.state.held_text = known.reference
        turn.say("incident.ask", reference=known.reference)


def _keep_attachments(turn: _Turn) -> None:
    attachments = turn.message.attachments
    reference = (
        turn.ctx.known_case.reference
        if (turn.ctx.known_case and turn.ctx.known_case.authorised and turn.ctx.known_case.open)
        else turn.state.case_ref
    )
    if reference is None and turn.state.status == "done" and turn.ctx.open_case:
        reference = turn.ctx.open_case
    turn.effects.append(KeepEvidence(attachments=attachments, reference=reference))
    turn.state.answers["_attachments"] = int(turn.state.answers.get("_attachments", 0)) + len(
        attachments
    )
    if reference:
        turn.say("incident.evidence_added", count=len(attachments), reference=reference)
    else:
        turn.say("evidence.thanks", count=len(attachments))
    if turn.state.pending == ["evidence"]:
        _record(turn, BY_ID["evidence"], "sending_now")
        _ask_next(turn)
    elif "evidence" not in turn.state.answers and turn.state.status in ("asking", "confirming"):
        turn.state.answers["evidence"] = "sending_now"
        turn.state.prefilled.append("evidence")


def _keep_quietly(turn: _Turn, text: str) -> None:
    """After STOP: keep anything sent, with the case if there is one, and say nothing."""
    reference = turn.state.case_ref or turn.state.last_case_ref
    if turn.message.attachments:
        turn.effects.append(KeepEvidence(attachments=turn.message.attachments, reference=reference))
    if text and reference:
        turn.effects.append(AddIncident(reference=reference, description=text))
    elif text:
        turn.effects.append(FlagForOfficer(reason="message after STOP", reference=None))


# --- asking ---------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _classify(description: str) -> Classification:
    """Classification is pure, so a step reuses it rather than reading the words again."""
    return classify(description)


def _view(turn: _Turn) -> View:
    classification = _classify(turn.state.description) if turn.state.description else None
    return View(turn.state.answers, classification, turn.message.channel, turn.ctx.policy)


def _next_questions(turn: _Turn) -> list[Question]:
    view = _view(turn)
    remaining = [q for q in QUESTIONS if q.id not in turn.state.answers and q.applies(view)]
    if view.classification is not None and view.classification.emergency_unconfirmed:
        # the wording reads like danger now, without danger words: ask that before anything
        remaining.sort(key=lambda q: q.id != "danger")
    return remaining


def _ask_next(turn: _Turn) -> None:
    remaining = _next_questions(turn)
    if not remaining:
        if turn.state.batch:
            _submit(turn)
        elif _view(turn).not_asb_path:
            _submit(turn)
        else:
            _confirm(turn)
        return
    if turn.state.batch:
        turn.state.rounds += 1
        if turn.state.rounds > _MAX_EMAIL_ROUNDS:
            for question in remaining:
                turn.state.answers[question.id] = None
            _submit(turn)
            return
        turn.say("email.intro" if turn.state.rounds == 1 else "email.more")
        _ask(turn, remaining)
        return
    _ask(turn, remaining[:1])


def _ask(turn: _Turn, questions: Sequence[Question]) -> None:
    view = _view(turn)
    turn.state.pending = [q.id for q in questions]
    turn.state.unclear = (
        0 if len(questions) != 1 or turn.state.pending != [questions[0].id] else turn.state.unclear
    )
    for question in questions:
        options = tuple(
            Option(
                value,
                turn.ctx.catalog.text(*_label(question, value)[:1], **_label(question, value)[1]),
            )
            for value in question.options(view)
        )
        turn.replies.append(
            Reply(
                turn.ctx.catalog.text(question.prompt_key(view)),
                options=options,
                multiple=question.kind == "multi",
                question_id=question.id,
            )
        )


def _label(question: Question, value: str) -> tuple[str, dict[str, Any]]:
    return option_label_key(question, value)


def _ask_special(
    turn: _Turn, key: str, values: Sequence[str], labels: str = "option.", **params: Any
) -> None:
    turn.replies.append(
        Reply(turn.ctx.catalog.text(key, **params), options=_options(turn, values, labels=labels))
    )


def _options(turn: _Turn, values: Sequence[str], labels: str = "option.") -> tuple[Option, ...]:
    return tuple(Option(v, turn.ctx.catalog.text(labels + v)) for v in values)


def _reask(turn: _Turn) -> None:
    state = turn.state
    if state.awaiting == "add_or_new":
        _ask_special(turn, "q.add_or_new", ("add", "new"), reference=turn.ctx.open_case)
    elif state.awaiting == "change_which":
        _ask_special(turn, "q.change_which", _changeable(turn), labels="field.")
    elif state.awaiting == "callback_number":
        turn.say("q.callback_number")
    elif state.status == "asking" and state.pending:
        _ask(turn, [BY_ID[q] for q in state.pending if q in BY_ID])
    elif state.status == "confirming":
        _confirm(turn)
    elif state.status in ("new", "describing"):
        turn.say("ask.describe")
        state.status = "describing"


def _resume_after_gap(turn: _Turn) -> None:
    last = turn.state.last()
    if (
        last is not None
        and turn.state.status in ("asking", "confirming")
        and turn.ctx.now - last > turn.ctx.idle_timeout
    ):
        turn.say("resume")


def _parse(question: Question, text: str, turn: _Turn) -> Any:
    view = _view(turn)
    values = question.options(view)
    choice = turn.message.choice
    if question.kind == "text":
        return text or None
    options = tuple(
        Option(v, turn.ctx.catalog.text(*_label(question, v)[:1], **_label(question, v)[1]))
        for v in values
    )
    if question.kind == "multi":
        if choice:
            return [c for c in choice.split(",") if c in values]
        chosen = parse_choices(text, options)
        if chosen is None:
            return None
        picked = [v for v in values if v in chosen and v not in ("none", "none_of_these")]
        return picked
    if choice in values:
        return choice
    if question.kind == "yes_no":
        answer = parse_yes_no(text, options)
        # Not sure is not a yes: record it, so nobody reads it as a firm no.
        return {Answer.YES: "yes", Answer.NO: "no", Answer.NOT_SURE: "not_sure"}.get(answer)
    picked_one = parse_choice(text, options)
    if picked_one is None and "none" in values and parse_yes_no(text) is Answer.NO:
        picked_one = "none"
    if picked_one is None and set(values) >= {"yes", "no"}:
        answer = parse_yes_no(text, options)
        picked_one = {Answer.YES: "yes", Answer.NO: "no", Answer.NOT_SURE: "not_sure"}.get(answer)
    return picked_one


def _give_up_value(question: Question, text: str) -> Any:
    """After repeated unclear answers, move on rather than trap the reporter."""
    return {"multi": [], "yes_no": None, "choice": None}.get(question.kind, text) or (
        f"unclear: {text[:200]}" if question.kind == "choice" else None
    )


def _yes_no_as(text: str, yes: str, no: str) -> str | None:
    answer = parse_yes_no(text)
    return {Answer.YES: yes, Answer.NO: no}.get(answer)


def _record(turn: _Turn, question: Question, value: Any) -> None:
    state = turn.state
    if question.id == "category" and value == "more_serious":
        state.answers["_not_asb_rejected"] = True
        state.pending = []
        return
    state.answers[question.id] = value
    state.history.append(question.id)
    state.pending = [q for q in state.pending if q != question.id]
    state.unclear = 0
    if question.id == "danger" and value == "yes" and not state.alerted:
        _emergency(turn)


def _take_batch_answers(turn: _Turn, text: str) -> None:
    state = turn.state
    numbered = parse_numbered_answers(text)
    pending = [BY_ID[q] for q in state.pending if q in BY_ID]
    if not numbered and len(pending) == 1:
        numbered = {1: text}
    if not numbered:
        state.description = (state.description + "\n" + text).strip()
        _ask_next(turn)
        return
    for number, question in enumerate(pending, start=1):
        if number in numbered:
            value = _parse(question, numbered[number], turn)
            if value is not None:
                _record(turn, question, value)
    state.pending = []
    _ask_next(turn)


# --- safety ---------------------------------------------------------------------------------


def _emergency(turn: _Turn) -> None:
    """999 first (R-02): the report is recorded and an officer alerted at once."""
    state = turn.state
    turn.urgent("urgent.call_999")
    if turn.message.channel is not Channel.EMAIL:
        turn.say("after_999")
    if not state.alerted:
        state.alerted = True
        result = _triage(turn)
        turn.effects.append(SaveCase(_draft(turn, result), status="open", alert="emergency"))
        state.case_saved_as = "open"
        turn.replies.append(
            Reply(turn.ctx.catalog.text("urgent.call_999.logged", reference=REFERENCE_TOKEN))
        )


def _risk_signal(turn: _Turn) -> bool:
    state = turn.state
    view = _view(turn)
    c = view.classification
    if state.answers.get("danger") == "yes" or state.answers.get("hate") == "yes":
        return True
    if c is not None and (c.emergency or c.hate or c.has("weapon", "injury", "violence", "fear")):
        return True
    if c is not None and turn.ctx.policy.categories[c.category].priority is Priority.P1:
        return not c.not_asb
    return bool(state.answers.get("risk"))


def _save_partial(turn: _Turn) -> None:
    if not turn.state.description:
        return
    alert = "partial report with a risk signal" if _risk_signal(turn) else None
    status = "open" if turn.state.case_saved_as == "open" else "incomplete"
    turn.effects.append(SaveCase(_draft(turn, _triage(turn)), status=status, alert=alert))
    turn.state.case_saved_as = status


# --- triage, summary, submission ----------------------------------------------------------


def _triage(turn: _Turn) -> TriageResult:
    state = turn.state
    answers = state.answers
    received = state.received() or turn.message.received_at
    risk_answers = None
    if isinstance(answers.get("risk"), list):
        chosen = set(answers["risk"])
        risk_answers = {q.id: q.id in chosen for q in risk_questions()}
    hate_answer = answers.get("hate")
    danger = answers.get("danger")
    result = triage_report(
        state.description,
        turn.ctx.policy,
        turn.ctx.calendar,
        received,
        turn.message.channel.value,
        risk_answers=risk_answers,
        reporter_says_hate=True
        if hate_answer == "yes"
        else (False if hate_answer == "no" else None),
        emergency_confirmed=True if danger == "yes" else (False if danger == "no" else None),
    )
    chosen_category = answers.get("category")
    overridden = (
        chosen_category
        and chosen_category not in ("something_else", result.category.value)
        and not str(chosen_category).startswith("unclear")
        and not result.decision.hate
    )
    if overridden:
        classification = _with_category(result.classification, Category(str(chosen_category)))
        result = _retriage(classification, turn, received, risk_answers, hate_answer, danger)
    return result


def _with_category(classification: Classification, category: Category) -> Classification:
    ranked = (category, *[c for c in classification.categories if c is not category])
    return dataclasses.replace(
        classification,
        category=category,
        categories=ranked,
        scores=(max(classification.scores, default=1) + 1, *classification.scores)[: len(ranked)],
        not_asb=category is Category.NOT_ASB,
        reasons=(*classification.reasons, f"category confirmed by the reporter: {category.value}"),
    )


def _retriage(
    classification: Classification,
    turn: _Turn,
    received: datetime,
    risk_answers: dict[str, bool] | None,
    hate_answer: Any,
    danger: Any,
) -> TriageResult:
    policy = turn.ctx.policy
    risk = assess_risk(risk_answers, policy.risk) if risk_answers is not None else None
    decision = decide_priority(
        classification,
        policy,
        risk=risk,
        reporter_says_hate=True
        if hate_answer == "yes"
        else (False if hate_answer == "no" else None),
        emergency_confirmed=True if danger == "yes" else (False if danger == "no" else None),
    )
    deadline = turn.ctx.calendar.deadline(
        received, policy.priorities[decision.priority].first_contact
    )
    return TriageResult(
        classification=classification,
        risk=risk,
        decision=decision,
        priority=decision.priority,
        category=decision.category,
        first_contact_by=deadline,
        reasons=classification.reasons + (risk.reasons if risk else ()) + decision.reasons,
    )


def _draft(turn: _Turn, result: TriageResult) -> CaseDraft:
    state = turn.state
    answers = {k: v for k, v in state.answers.items() if not k.startswith("_")}
    view = _view(turn)
    policy = turn.ctx.policy
    received = state.received() or turn.message.received_at
    offensive = None
    graffiti_due = None
    if result.category is Category.GRAFFITI or (view.graffiti):
        offensive = (
            answers.get("graffiti_offensive") == "yes"
            or result.classification.offensive_graffiti
            or result.decision.hate
        )
        target = policy.graffiti.offensive if offensive else policy.graffiti.other
        graffiti_due = turn.ctx.calendar.deadline(received, target)
    deadline = result.first_contact_by
    if result.decision.self_help_advice:
        deadline = turn.ctx.calendar.deadline(received, policy.not_asb.respond_within)
    update_days = answers.get("update_frequency")
    risk = result.risk
    area = None
    allocation = turn.ctx.allocate(area, result.priority)
    return CaseDraft(
        description=state.description,
        received_at=received,
        priority=result.priority.value,
        category=result.category.value,
        categories=tuple(c.value for c in result.classification.categories),
        hate=result.decision.hate,
        hate_perceived_by_reporter=True
        if answers.get("hate") == "yes"
        else (False if answers.get("hate") == "no" else None),
        emergency=answers.get("danger") == "yes" or result.decision.call_999,
        not_asb=result.decision.self_help_advice,
        deadline_at=deadline,
        reasons=result.reasons,
        risk_level=risk.level.value if risk else None,
        risk_score=risk.score if risk else None,
        risk_answers=dict(zip(risk.answered_yes, [True] * len(risk.answered_yes), strict=True))
        if risk
        else {},
        risk_reasons=risk.reasons if risk else (),
        support_referral=bool(risk and risk.support_referral) or answers.get("support") == "yes",
        answers=answers,
        domestic_abuse=result.decision.domestic_abuse,
        offensive_graffiti=offensive,
        graffiti_due_at=graffiti_due,
        anonymous=view.anonymous,
        third_party=view.third_party,
        update_every_days=int(update_days)
        if isinstance(update_days, str) and update_days.isdigit()
        else None,
        officer_id=allocation.officer_id if allocation else None,
    )


def _summary(turn: _Turn) -> str:
    answers = turn.state.answers
    catalog = turn.ctx.catalog
    lines = [f"{catalog.text('field.description')}: {_shorten(turn.state.description, 90)}"]
    view = _view(turn)
    for key in (
        "category",
        "when",
        "where",
        "how_often",
        "who",
        "hate",
        "for_whom",
        "contact_method",
        "update_frequency",
        "anonymous",
    ):
        value = answers.get(key)
        if value in (None, "", []):
            continue
        question = BY_ID[key]
        if (
            question.kind in ("choice", "yes_no")
            and isinstance(value, str)
            and value in question.options(view)
        ) or key == "category":
            label_key, params = option_label_key(question, str(value))
            shown = catalog.text(label_key, **params) if catalog.has(label_key) else str(value)
        else:
            shown = _shorten(str(value), 60)
        lines.append(f"{catalog.text('field.' + key)}: {shown}")
    return "\n".join(lines)


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _confirm(turn: _Turn) -> None:
    turn.state.status = "confirming"
    turn.state.pending = []
    turn.say("confirm.summary", summary=_summary(turn))
    _ask_special(turn, "confirm.ask", ("send", "change"))


def _changeable(turn: _Turn) -> tuple[str, ...]:
    view = _view(turn)
    return tuple(
        k for k in CHANGEABLE if k == "description" or (k in BY_ID and BY_ID[k].applies(view))
    )


def _submit(turn: _Turn) -> None:
    state = turn.state
    result = _triage(turn)
    draft = _draft(turn, result)
    alert = None
    if draft.priority == Priority.P1.value and not state.alerted:
        alert = "hate" if draft.hate else ("emergency" if draft.emergency else "P1 report")
        state.alerted = True
    flag_consent = draft.third_party and state.answers.get("tenant_consent") == "no"
    turn.effects.append(SaveCase(draft, status="open", alert=alert, submitted=True))
    if flag_consent:
        turn.effects.append(
            FlagForOfficer(
                reason="advocate report without the tenant's consent", reference=REFERENCE_TOKEN
            )
        )
    state.case_saved_as = "open"
    _acknowledge(turn, draft, result)
    state.status = "done"
    state.pending = []
    state.last_case_ref = REFERENCE_TOKEN


def _acknowledge(turn: _Turn, draft: CaseDraft, result: TriageResult) -> None:
    ctx = turn.ctx
    if draft.not_asb:
        turn.say("not_asb.advice")
        if ctx.earlier_not_asb:
            turn.say("not_asb.repeat", earlier=", ".join(ctx.earlier_not_asb))
        turn.say(
            "not_asb.recorded",
            reference=REFERENCE_TOKEN,
            respond_within=str(ctx.policy.not_asb.respond_within),
        )
        return
    lines = [ctx.catalog.text("ack.thanks", reference=REFERENCE_TOKEN)]
    deadline = plain_date(draft.deadline_at, ctx)
    if draft.anonymous:
        contact = ctx.catalog.text("ack.anonymous")
    elif draft.third_party:
        contact = ctx.catalog.text(
            "ack.third_party",
            tenant=str(turn.state.answers.get("tenant_name") or "them"),
            deadline=deadline,
        )
    else:
        officer = ctx.allocate(None, Priority(draft.priority))
        contact = (
            ctx.catalog.text(
                "ack.contact_by.named", officer=officer.officer_name, deadline=deadline
            )
            if officer
            else ctx.catalog.text("ack.contact_by", deadline=deadline)
        )
    lines.append(
        ctx.catalog.text(
            "ack.priority",
            priority_words=PRIORITY_WORDS[Priority(draft.priority)],
            contact_line=contact,
        )
    )
    if draft.hate:
        lines.append(ctx.catalog.text("ack.hate"))
    if draft.graffiti_due_at is not None:
        lines.append(
            ctx.catalog.text("ack.graffiti", deadline=plain_date(draft.graffiti_due_at, ctx))
        )
    if draft.support_referral and not draft.anonymous:
        lines.append(ctx.catalog.text("ack.support"))
    if draft.domestic_abuse:
        lines.append(ctx.catalog.text("domestic_abuse.helpline"))
    lines.append(ctx.catalog.text("ack.next", reference=REFERENCE_TOKEN))
    if turn.state.batch:
        lines.append(ctx.catalog.text("confirm.summary", summary=_summary(turn)))
        lines.append(ctx.catalog.text("ack.email.correct"))
    turn.replies.append(Reply("\n\n".join(lines) if turn.state.batch else " ".join(lines[:2])))
    if not turn.state.batch:
        for line in lines[2:]:
            turn.replies.append(Reply(line))


def plain_date(moment: datetime, ctx: Context) -> str:
    """A deadline in plain words: "Tuesday 24 November", or "4pm on Monday 23 November"."""
    local = ctx.calendar.local(moment)
    now = ctx.calendar.local(ctx.now)
    day = f"{local:%A} {local.day} {local:%B}"
    if local.year != now.year:
        day += f" {local.year}"
    closes = ctx.policy.business_hours.closes
    if (local.hour, local.minute) == (closes.hour, closes.minute):
        return day
    hour = local.hour % 12 or 12
    minutes = f":{local.minute:02d}" if local.minute else ""
    return f"{hour}{minutes}{'am' if local.hour < 12 else 'pm'} on {day}"


__all__ = [
    "AWAITING",
    "COMMANDS",
    "Allocation",
    "Context",
    "KnownCase",
    "StepResult",
    "on_idle",
    "plain_date",
    "step",
]
