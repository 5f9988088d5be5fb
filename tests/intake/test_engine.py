"""The conversation engine, step by step and command by command (pure: no database)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from intake.conversation.catalog import Catalog
from intake.conversation.effects import (
    REFERENCE_TOKEN,
    AddIncident,
    FlagForOfficer,
    KeepEvidence,
    OptIn,
    OptOut,
    RequestCallback,
    SaveCase,
)
from intake.conversation.engine import Allocation, Context, KnownCase, StepResult, on_idle, step
from intake.conversation.state import ConversationState
from intake.messages import Attachment, Channel, InboundMessage
from intake.settings import load_settings
from tests.conftest import REPO
from triage.calendar import WorkingCalendar
from triage.category_model import FlagModel
from triage.classifier import use_flag_model, use_shipped_flag_model
from triage.taxonomy import Priority

LONDON = ZoneInfo("Europe/London")
FRIDAY_4PM = datetime(2026, 11, 20, 16, 0, tzinfo=LONDON)
SETTINGS = load_settings(REPO / "config.yaml", {})


def context(now: datetime = FRIDAY_4PM, **changes: object) -> Context:
    ctx = Context(
        policy=SETTINGS.policy,
        calendar=WorkingCalendar.from_policy(SETTINGS.policy),
        catalog=Catalog.load("en"),
        now=now,
        landlord="Example Homes",
        allocate=lambda area, priority: Allocation("amara", "Amara Okafor"),
    )
    return dataclasses.replace(ctx, **changes)


class Chat:
    """Drives the engine like a reporter would, keeping the state between turns."""

    def __init__(
        self, channel: Channel = Channel.WEB, sender: str = "web-1", now: datetime = FRIDAY_4PM
    ) -> None:
        self.state = ConversationState()
        self.channel, self.sender, self.now = channel, sender, now
        self.last: StepResult | None = None
        self.turns = 0

    def say(
        self,
        text: str = "",
        *,
        ctx: Context | None = None,
        attachments: Sequence[Attachment] = (),
        choice: str | None = None,
    ) -> StepResult:
        self.turns += 1
        message = InboundMessage(
            self.channel,
            self.sender,
            f"m{self.turns}",
            text,
            self.now,
            attachments=tuple(attachments),
            choice=choice,
        )
        self.last = step(self.state, message, ctx or context(self.now))
        self.state = self.last.state
        return self.last

    @property
    def texts(self) -> list[str]:
        assert self.last is not None
        return [r.text for r in self.last.replies]

    @property
    def asking(self) -> str | None:
        return (
            self.state.pending[0]
            if self.state.pending
            else self.state.awaiting or self.state.status
        )

    def answer_until(self, question: str, answers: dict[str, str], limit: int = 40) -> None:
        """Answer whatever is asked from ``answers`` (by question id) until ``question``."""
        for _ in range(limit):
            if self.asking == question:
                return
            current = self.asking
            assert current in answers, f"unexpected question {current}; replies {self.texts}"
            self.say(answers[current])
        raise AssertionError(f"never asked {question}")


ROUTINE = {
    "category": "1",
    "danger": "no",
    "for_whom": "myself",
    "when": "last night",
    "how_often": "2",
    "still_happening": "yes",
    "where": "Elm Court stairwell, DH1",
    "who": "3",
    "evidence": "later",
    "hate": "no",
    "risk": "0",
    "share_consent": "yes",
    "anonymous": "1",
    "reporter_name": "Sam Jones",
    "reporter_address": "12 Elm Court, DH1 3AB",
    "contact_method": "1",
    "safe_messages": "yes",
    "update_frequency": "2",
    "support": "no",
    "adjustments": "none",
    "graffiti_offensive": "no",
    "confirming": "1",
}


def saves(result: StepResult) -> list[SaveCase]:
    return [e for e in result.effects if isinstance(e, SaveCase)]


# --- opening -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "opening", ["hi", "Hello", "hiya!", "I want to report something", "/start"]
)
def test_a_greeting_gets_a_welcome_and_the_first_question(opening: str) -> None:
    chat = Chat()
    chat.say(opening)
    assert "999" in chat.texts[0]
    assert chat.texts[-1] == "Please tell us what happened, in your own words."
    assert chat.state.status == "describing"


def test_a_first_message_with_the_story_goes_straight_to_confirming_the_category() -> None:
    chat = Chat()
    result = chat.say("loud music from flat 4 until 3am, it's every night")
    assert chat.asking == "category"
    assert next(o.value for o in result.replies[-1].options) == "noise"
    assert result.replies[-1].options[-1].value == "something_else"
    assert "when" in chat.state.prefilled and "how_often" in chat.state.prefilled


# --- safety --------------------------------------------------------------------------------


def test_an_emergency_gets_999_first_is_recorded_and_alerted_at_once() -> None:
    chat = Chat(Channel.SMS, "+447700900123")
    result = chat.say("hes outside my door now with a knife screaming hes going to kill me")
    assert result.replies[0].urgent and "call 999 now" in result.replies[0].text
    [save] = saves(result)
    assert save.status == "open" and save.alert == "emergency"
    assert save.draft.priority == "P1" and save.draft.emergency
    assert any(REFERENCE_TOKEN in r.text for r in result.replies)
    assert chat.state.answers["danger"] == "yes"
    assert chat.asking == "category"


@pytest.fixture
def flag_model_sees_danger_in_everything() -> Iterator[None]:
    """A flag model that reads danger now into any wording (the rules still decide first)."""
    use_flag_model(
        FlagModel(
            bias={"emergency": 9.0},
            weights={"emergency": {"outside": 1.0}},
            thresholds={"emergency": 0.5},
        )
    )
    try:
        yield
    finally:
        use_shipped_flag_model()


@pytest.mark.usefixtures("flag_model_sees_danger_in_everything")
def test_danger_read_only_by_the_model_is_asked_first_not_announced() -> None:
    """Only the flag model's reading of the wording, no danger words: the reporter is asked
    "Is anyone in immediate danger right now?" before anything else, not told to call 999
    unasked; their answer decides (R-02). Danger words still get 999 at once."""
    chat = Chat(Channel.SMS, "+447700900124")
    result = chat.say("my client is being harassed by youths outside her flat")
    assert not any(r.urgent for r in result.replies) and not saves(result)
    assert chat.asking == "danger" and "danger" not in chat.state.answers
    result = chat.say("yes")
    assert result.replies[0].urgent and "999" in result.replies[0].text
    assert saves(result)[0].alert == "emergency"
    calm = Chat(Channel.SMS, "+447700900125")
    calm.say("my client is being harassed by youths outside her flat")
    result = calm.say("no")
    assert not any(r.urgent for r in result.replies) and calm.asking == "category"
    words = Chat(Channel.SMS, "+447700900126").say("hes outside my door now with a knife")
    assert words.replies[0].urgent and "call 999 now" in words.replies[0].text


@pytest.mark.parametrize("yes", ["yes", "y", "Yeah", "yep he's still here", "1"])
def test_saying_yes_to_danger_puts_999_before_anything_else(yes: str) -> None:
    chat = Chat()
    chat.say("the man upstairs keeps shouting abuse at me on the stairs")
    chat.answer_until("danger", ROUTINE)
    result = chat.say(yes)
    assert result.replies[0].urgent and "999" in result.replies[0].text
    assert saves(result)[0].alert == "emergency"


@pytest.mark.parametrize(
    ("reply", "stored"),
    [
        ("no", "no"),
        ("n", "no"),
        ("no thanks", "no"),
        ("nah", "no"),
        ("2", "no"),
    ],
)
def test_danger_answers_are_read_leniently(reply: str, stored: str) -> None:
    chat = Chat()
    chat.say("someone keeps kicking my door at night")
    chat.answer_until("danger", ROUTINE)
    result = chat.say(reply)
    assert chat.state.answers["danger"] == stored
    assert not any(r.urgent for r in result.replies)


def test_unclear_answers_are_asked_again_then_let_go() -> None:
    chat = Chat()
    chat.say("someone keeps kicking my door at night")
    chat.answer_until("who", ROUTINE)
    for _ in range(2):
        result = chat.say("purple")
        assert "didn't understand" in result.replies[0].text
        assert chat.asking == "who"
    chat.say("purple")
    assert chat.asking != "who"


# --- the route through the questions ---------------------------------------------------


def test_a_full_report_ends_with_reference_priority_officer_and_a_date() -> None:
    chat = Chat()
    chat.say("my neighbour keeps threatening me and kicking my door")
    chat.answer_until("confirming", ROUTINE)
    assert "Here's your report" in chat.texts[0]
    result = chat.say("1")
    [save] = saves(result)
    assert save.submitted and save.status == "open"
    ack = " ".join(chat.texts)
    assert f"Your reference is {REFERENCE_TOKEN}" in ack
    assert "Amara Okafor will contact you by Monday 23 November" in ack
    assert "high priority" in ack
    assert "999" in ack and "101" in ack
    assert chat.state.status == "done"


def test_the_hate_question_is_asked_of_every_report_and_the_reporter_decides() -> None:
    chat = Chat()
    chat.say("they play their music too loud every weekend")
    chat.answer_until("hate", ROUTINE)
    chat.say("yes")
    chat.answer_until("confirming", ROUTINE)
    draft = saves(chat.say("1"))[0].draft
    assert draft.hate and draft.hate_perceived_by_reporter is True
    assert draft.priority == "P1"


def test_an_advocate_is_recognised_and_asked_for_the_tenant_and_consent() -> None:
    chat = Chat(Channel.WEB)
    chat.say(
        "I'm a support worker writing on behalf of my client who is being harassed by "
        "youths outside her flat"
    )
    asked = []
    answers = ROUTINE | {
        "advocate_name": "Jo Patel, Mind",
        "tenant_name": "Mrs Khan",
        "tenant_address": "3 Rowan Way DH2 1AA",
        "tenant_contact": "07700900456",
        "tenant_consent": "yes",
        "tenant_preferred_contact": "2",
    }
    for _ in range(40):
        if chat.asking == "confirming":
            break
        asked.append(chat.asking)
        chat.say(answers[chat.asking])
    assert "for_whom" not in asked and "anonymous" not in asked and "reporter_name" not in asked
    assert sorted(asked[:2]) == ["category", "danger"]  # (danger first if it reads as now)
    assert asked[2:7] == [
        "advocate_name",
        "tenant_name",
        "tenant_address",
        "tenant_contact",
        "tenant_consent",
    ]
    draft = saves(chat.say("1"))[0].draft
    assert draft.third_party and draft.answers["tenant_consent"] == "yes"
    assert "We'll contact Mrs Khan by" in " ".join(chat.texts)


def test_an_advocate_without_the_tenants_consent_is_flagged_for_an_officer() -> None:
    chat = Chat()
    chat.say("I'm reporting this for my mum who lives at 4 Ash Close, they keep threatening her")
    answers = ROUTINE | {
        "advocate_name": "her son",
        "tenant_name": "Ann",
        "tenant_address": "4 Ash Close",
        "tenant_contact": "ann@example.org",
        "tenant_consent": "no",
    }
    chat.answer_until("confirming", answers)
    result = chat.say("1")
    assert any(isinstance(e, FlagForOfficer) and "consent" in e.reason for e in result.effects)


def test_graffiti_asks_if_offensive_and_sets_the_removal_target() -> None:
    chat = Chat()
    chat.say("someone has sprayed graffiti all over the bin store wall")
    chat.answer_until(
        "graffiti_offensive", ROUTINE | {"category": "graffiti"} if False else ROUTINE
    )
    chat.say("yes")
    chat.answer_until("confirming", ROUTINE)
    draft = saves(chat.say("1"))[0].draft
    assert draft.offensive_graffiti is True
    assert draft.graffiti_due_at == datetime(2026, 11, 23, 17, tzinfo=LONDON)
    assert "remove the graffiti by Monday 23 November" in " ".join(chat.texts)


def test_the_risk_checklist_takes_several_numbers_and_scores_them() -> None:
    chat = Chat()
    chat.say("the lads downstairs keep banging on my door and shouting threats")
    chat.answer_until("risk", ROUTINE)
    chat.say("1, 2 and 4")
    assert chat.state.answers["risk"] == ["unsafe_at_home", "targeted", "health_affected"]
    chat.answer_until("confirming", ROUTINE)
    draft = saves(chat.say("1"))[0].draft
    assert draft.risk_level in ("medium", "high") and draft.risk_score == 7


def test_domestic_abuse_skips_the_checklist_asks_when_safe_and_gives_the_helpline() -> None:
    chat = Chat()
    chat.say("my ex partner keeps turning up and hitting me, he controls my money")
    asked = []
    answers = ROUTINE | {"da_safe_contact": "text only, weekdays 10-2"}
    for _ in range(40):
        if chat.asking == "confirming":
            break
        asked.append(chat.asking)
        chat.say(answers[chat.asking])
    assert "risk" not in asked and "da_safe_contact" in asked and "safe_messages" not in asked
    chat.say("1")
    assert any("0808 2000 247" in t for t in chat.texts)


def test_an_anonymous_reporter_is_not_asked_for_contact_details() -> None:
    chat = Chat()
    chat.say("drug dealing from the flat opposite, cars coming and going all night")
    asked = []
    for _ in range(40):
        if chat.asking == "confirming":
            break
        asked.append(chat.asking)
        chat.say(ROUTINE | {"anonymous": "2"} and (ROUTINE | {"anonymous": "2"})[chat.asking])
    assert "anonymous" in asked
    assert not {"reporter_name", "contact_method", "update_frequency"} & set(asked)
    draft = saves(chat.say("1"))[0].draft
    assert draft.anonymous
    assert "As you're anonymous we won't contact you" in " ".join(chat.texts)


def test_the_summary_can_be_corrected_before_sending() -> None:
    chat = Chat()
    chat.say("my neighbour keeps shouting at me and kicking my door")
    chat.answer_until("confirming", ROUTINE)
    chat.say("2")
    assert chat.asking == "change_which"
    where = [o.value for o in chat.last.replies[-1].options].index("where") + 1 if chat.last else 0
    chat.say(str(where))
    assert chat.asking == "where"
    result = chat.say("Birch House car park")
    assert chat.state.status == "confirming"
    assert "Birch House car park" in result.replies[0].text


def test_not_asb_gets_kind_advice_and_is_recorded_at_p3() -> None:
    chat = Chat()
    result = chat.say("I can hear the baby next door crying at night")
    assert chat.asking == "category" and "everyday living" in result.replies[-1].text
    chat.say("1")
    assert chat.asking == "hate"
    result = chat.say("no")
    [save] = saves(result)
    assert save.draft.not_asb and save.draft.priority == "P3"
    text = " ".join(chat.texts)
    assert "friendly word" in text and "within 10 working days" in text


def test_a_repeated_not_asb_report_points_back_to_the_earlier_advice() -> None:
    chat = Chat()
    ctx = context(earlier_not_asb=("ASB-2026-000007, 3 October",))
    chat.say("I can smell their cooking in my flat again", ctx=ctx)
    chat.say("1", ctx=ctx)
    chat.say("no", ctx=ctx)
    assert any(
        "We gave you advice about this before (ASB-2026-000007, 3 October)" in t for t in chat.texts
    )


def test_rejecting_not_asb_goes_through_the_full_report() -> None:
    chat = Chat()
    chat.say("the baby next door cries a lot at night")
    chat.say("2")
    assert chat.asking == "category"
    assert chat.state.answers.get("_not_asb_rejected") is True


# --- commands that work anywhere ---------------------------------------------------------


def test_help_explains_and_asks_the_same_question_again() -> None:
    chat = Chat()
    chat.say("someone keeps kicking my door at night")
    chat.answer_until("where", ROUTINE)
    result = chat.say("HELP")
    assert "STOP" in result.replies[0].text and "999" in result.replies[0].text
    assert result.replies[-1].question_id == "where"


def test_stop_opts_out_keeps_the_report_and_then_stays_quiet() -> None:
    chat = Chat(Channel.SMS, "+447700900123")
    chat.say("someone keeps kicking my door at night")
    result = chat.say("STOP")
    assert any(isinstance(e, OptOut) for e in result.effects)
    assert saves(result) and saves(result)[0].status == "incomplete"
    assert "Your report is kept" in result.replies[0].text
    quiet = chat.say("are you there")
    assert quiet.replies == ()
    assert any(isinstance(e, FlagForOfficer) for e in quiet.effects)
    back = chat.say("START")
    assert any(isinstance(e, OptIn) for e in back.effects)


def test_start_over_begins_again_and_keeps_a_partial_report() -> None:
    chat = Chat()
    chat.say("someone keeps kicking my door at night")
    result = chat.say("start over")
    assert saves(result)
    assert chat.state.status == "describing" and chat.state.answers == {}


def test_human_on_sms_requests_a_callback_to_that_number() -> None:
    chat = Chat(Channel.SMS, "+447700900123")
    chat.say("someone keeps kicking my door at night")
    result = chat.say("speak to someone")
    [callback] = [e for e in result.effects if isinstance(e, RequestCallback)]
    assert callback.number == "+447700900123"
    assert "officer" in result.replies[0].text


def test_human_on_web_chat_asks_for_a_number_first() -> None:
    chat = Chat(Channel.WEB)
    chat.say("HUMAN")
    assert chat.asking == "callback_number"
    result = chat.say("07700 900 321")
    [callback] = [e for e in result.effects if isinstance(e, RequestCallback)]
    assert callback.number == "07700900321"


def test_quick_exit_answers_blandly_and_saves_a_risky_partial_report() -> None:
    chat = Chat()
    chat.say("my partner hit me last night and I'm scared he'll come back")
    result = chat.say("exit")
    assert [r.text for r in result.replies] == ["OK. Bye."]
    [save] = [s for s in saves(result)]
    assert save.alert is not None


def test_back_goes_to_the_previous_question() -> None:
    chat = Chat()
    chat.say("someone keeps kicking my door at night")
    chat.answer_until("who", ROUTINE)
    chat.say("back")
    assert chat.asking == "where"


# --- existing cases ------------------------------------------------------------------------


def test_a_reference_from_the_reporter_adds_an_incident() -> None:
    chat = Chat()
    known = KnownCase("ASB-2026-000042", authorised=True, open=True)
    result = chat.say(
        "ref ASB-2026-000042 they were at it again last night", ctx=context(known_case=known)
    )
    [added] = [e for e in result.effects if isinstance(e, AddIncident)]
    assert added.reference == "ASB-2026-000042"
    assert added.description == "they were at it again last night"


def test_someone_elses_reference_reveals_nothing() -> None:
    chat = Chat()
    known = KnownCase("ASB-2026-000042", authorised=False, open=True)
    result = chat.say("ref ASB-2026-000042 what's happening", ctx=context(known_case=known))
    assert result.effects == ()
    assert [r.text for r in result.replies] == [
        "Sorry, we can't add to that reference from here. If you need to report something, "
        "just tell us what happened."
    ]


def test_a_reply_after_the_acknowledgement_asks_whether_to_add_it() -> None:
    chat = Chat()
    chat.state = ConversationState(status="done", last_case_ref="ASB-2026-000042")
    ctx = context(open_case="ASB-2026-000042")
    chat.say("they were shouting again tonight", ctx=ctx)
    assert chat.asking == "add_or_new"
    result = chat.say("1", ctx=ctx)
    [added] = [e for e in result.effects if isinstance(e, AddIncident)]
    assert added.description == "they were shouting again tonight"


def test_photos_are_kept_with_the_report() -> None:
    chat = Chat()
    chat.say("someone keeps kicking my door at night")
    result = chat.say(attachments=[Attachment("image/jpeg", 1234, "door.jpg", b"\xff\xd8")])
    [kept] = [e for e in result.effects if isinstance(e, KeepEvidence)]
    assert kept.attachments[0].kind == "photo"
    assert "kept 1 file" in result.replies[0].text


# --- gaps and idleness ------------------------------------------------------------------


def test_a_conversation_resumes_after_a_gap() -> None:
    chat = Chat()
    chat.say("someone keeps kicking my door at night")
    chat.answer_until("where", ROUTINE)
    chat.now = FRIDAY_4PM + timedelta(days=1)
    result = chat.say("Elm Court stairwell")
    assert result.replies[0].text.startswith("Welcome back")
    assert chat.state.answers["where"] == "Elm Court stairwell"


def test_idle_partial_report_with_a_risk_signal_is_saved_and_flagged() -> None:
    chat = Chat()
    chat.say("he said he'd stab me if I reported him")
    result = on_idle(chat.state, context(FRIDAY_4PM + timedelta(hours=3)))
    [save] = saves(result)
    assert save.status == "incomplete" and save.alert == "partial report with a risk signal"


def test_idle_partial_report_without_risk_is_still_saved_unflagged() -> None:
    chat = Chat()
    chat.say("there's an old mattress dumped by the bins")
    [save] = saves(on_idle(chat.state, context(FRIDAY_4PM + timedelta(hours=3))))
    assert save.status == "incomplete" and save.alert is None


# --- email -------------------------------------------------------------------------------


def test_email_asks_the_remaining_questions_together_and_finishes_in_one_reply() -> None:
    chat = Chat(Channel.EMAIL, "tenant@example.org")
    first = chat.say(
        "Dear Sir, the man in flat 2 has been shouting abuse at me on the stairs "
        "for weeks. Regards, Sam"
    )
    questions = [r for r in first.replies if r.question_id]
    assert len(questions) >= 8
    answers = "\n".join(
        f"{n}. {a}"
        for n, a in enumerate(
            [
                "1",
                "no",
                "myself",
                "last Tuesday",
                "3",
                "yes",
                "Flat 2 stairs, Elm Court DH1",
                "1",
                "none",
                "no",
                "0",
                "yes",
                "1",
                "Sam Jones",
                "same",
                "1",
                "yes",
                "2",
                "no",
                "none",
            ],
            1,
        )
    )
    second = chat.say(answers)
    rounds = 2
    while chat.state.status != "done" and rounds < 4:
        pending = [r for r in second.replies if r.question_id]
        second = chat.say("\n".join(f"{n}. no" for n in range(1, len(pending) + 1)))
        rounds += 1
    assert chat.state.status == "done" and rounds <= 3
    assert saves(second)[0].submitted
    assert "If anything above is wrong, reply and tell us." in second.replies[-1].text


# --- priorities and dates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("the tenant below plays music loudly until 1am most nights", Priority.P2),
        ("someone dumped an old sofa in the bin store", Priority.P2),
        ("people dealing drugs in the stairwell every evening", Priority.P1),
    ],
)
def test_priority_follows_the_policy(text: str, priority: Priority) -> None:
    chat = Chat()
    chat.say(text)
    chat.answer_until("confirming", ROUTINE)
    assert saves(chat.say("1"))[0].draft.priority == priority.value


# --- advocates (R-07) ---------------------------------------------------------------------

TENANT_CASE = KnownCase("ASB-2026-000042", authorised=True, open=True, role="tenant")
ADVOCATE_CASE = KnownCase("ASB-2026-000042", authorised=True, open=True, role="advocate")


def test_the_tenant_can_change_their_advocate() -> None:
    from intake.conversation.effects import EndAdvocacy, NominateAdvocate

    chat = Chat(Channel.SMS, "+447700900456")
    ctx = context(own_case=TENANT_CASE)
    result = chat.say("change my advocate", ctx=ctx)
    assert [type(e) for e in result.effects] == [EndAdvocacy]
    assert "no longer acts for you on ASB-2026-000042" in result.replies[0].text
    result = chat.say("my daughter Sara Khan, 07700 900999", ctx=ctx)
    [nominated] = result.effects
    assert isinstance(nominated, NominateAdvocate)
    assert nominated.details == "my daughter Sara Khan, 07700 900999"


def test_an_advocate_cannot_change_the_advocate() -> None:
    chat = Chat(Channel.EMAIL, "jo@mind.example")
    result = chat.say("CHANGE ADVOCATE ASB-2026-000042", ctx=context(known_case=ADVOCATE_CASE))
    assert result.effects == ()
    assert "Only the person the report is about can change their advocate" in result.replies[0].text


def test_change_advocate_without_a_case_asks_for_the_reference() -> None:
    chat = Chat()
    result = chat.say("change advocate")
    assert result.effects == () and "Reply with your reference" in result.replies[0].text
