"""Whole conversations through ``intake chat``: the real service, a real SQLite database and
the terminal channel, run as a process the way a script would drive it."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.intake.test_cli import INTAKE

FRIDAY_4PM = "2026-11-20T16:00:00+00:00"


class Terminal:
    """One database, any number of people chatting to the bot through ``intake chat``."""

    def __init__(self, tmp_path: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
        self.env["INTAKE_DATABASE__URL"] = f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}"
        self.env["INTAKE_SERVICE__DATA_DIR"] = str(tmp_path / "var")
        self.cwd = tmp_path

    def _start(self, sender: str, at: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [INTAKE, "--config", str(REPO / "config.yaml"), "chat", "--as", sender, "--at", at],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self.env, cwd=self.cwd,
        )

    @staticmethod
    def _turn(process: subprocess.Popen[str], line: str) -> str:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(line + "\n")
        process.stdin.flush()
        lines = []
        while (out := process.stdout.readline()) != "---\n":
            assert out, "intake chat ended before answering"
            lines.append(out)
        return "".join(lines).strip()

    def chat(self, sender: str, lines: list[str], at: str = FRIDAY_4PM) -> list[str]:
        """Send ``lines`` one per turn; return the bot's answer to each line."""
        process = self._start(sender, at)
        try:
            return [self._turn(process, line) for line in lines]
        finally:
            self._finish(process)

    def converse(self, sender: str, opening: str, answers: dict[str, str],
                 at: str = FRIDAY_4PM, until: str = "Your reference is") -> list[str]:
        """Open with ``opening``, then answer each question by the first ``answers`` key found
        in it (a fragment of the question's words), until a reply contains ``until``."""
        process = self._start(sender, at)
        turns = []
        try:
            reply = self._turn(process, opening)
            turns.append(reply)
            for _ in range(40):
                if until in reply:
                    return turns
                question = reply.split("\n\n")[-1]
                answer = next((a for fragment, a in answers.items() if fragment in question), None)
                assert answer is not None, f"no answer for: {question}"
                reply = self._turn(process, answer)
                turns.append(reply)
            raise AssertionError(f"never reached {until!r}: {turns[-3:]}")
        finally:
            self._finish(process)

    @staticmethod
    def _finish(process: subprocess.Popen[str]) -> None:
        assert process.stdin is not None and process.stdout is not None
        assert process.stderr is not None
        process.stdin.close()
        errors = process.stderr.read()
        process.wait(timeout=60)
        process.stdout.close()
        process.stderr.close()
        assert process.returncode == 0, errors
        assert "Traceback" not in errors, errors

    def case(self, reference: str) -> dict[str, Any]:
        result = subprocess.run([INTAKE, "--config", str(REPO / "config.yaml"), "cases", "show",
                                 reference, "--json"], capture_output=True, text=True,
                                env=self.env, cwd=self.cwd, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        detail: dict[str, Any] = json.loads(result.stdout)
        return detail


def reference_in(text: str) -> str:
    match = re.search(r"ASB-\d{4}-\d{6}", text)
    assert match, text
    return match.group(0)


@pytest.fixture
def terminal(tmp_path: Path) -> Terminal:
    return Terminal(tmp_path)


ROUTINE = {
    "Which fits best?": "1",
    "immediate danger": "no",
    "for yourself or for someone else": "myself",
    "When did it happen": "last night about 10pm",
    "How often": "a few times",
    "still going on": "yes",
    "Where did it happen": "Elm Court stairwell, DH1",
    "Exactly where is the graffiti": "left wall of the bin store, Elm Court DH1",
    "Is the graffiti offensive": "no",
    "know who did it": "1",
    "photos, video or recordings": "later",
    "because of someone's race": "no",
    "Which of these apply": "0",
    "share your report with the police": "yes",
    "give your name": "1",
    "What is your name?": "Sam Jones",
    "What is your address": "12 Elm Court, DH1 3AB",
    "How would you like us to contact you": "1",
    "safe for us to leave you messages": "yes",
    "How often would you like an update": "2",
    "put you in touch with support": "no",
    "to talk to us": "none",
    "Is this right?": "1",
}


def test_a_hate_report(terminal: Terminal) -> None:
    turns = terminal.converse(
        "+447700900001",
        "the man next door keeps calling me a p*ki and told me to go back to my own country",
        ROUTINE | {"because of someone's race": "yes", "Which of these apply": "1 2 4"},
    )
    assert "Which fits best?" in turns[0] and "1. Hate incident or hate crime" in turns[0]
    ack = turns[-1]
    reference = reference_in(ack)
    assert "high priority" in ack and "by Monday 23 November" in ack
    assert "hate incident" in ack
    case = terminal.case(reference)
    assert case["priority"] == "P1" and case["hate"] is True
    assert case["category"] == "hate_incident"
    assert case["hate_perceived_by_reporter"] is True
    assert case["deadline"] == "2026-11-23T17:00:00+00:00"
    assert case["risk"]["level"] in ("medium", "high")
    assert case["reporter_channel"] == "terminal"
    assert case["reporter"]["name"] == "Sam Jones"
    assert case["officer"] in ("amara", "ben")
    kinds = {a["kind"] for a in case["scheduled_actions"]}
    assert {"alert_officer", "first_contact_deadline", "first_contact_reminder",
            "update_reminder", "closure_check"} <= kinds
    transcript = case["transcript"]
    assert transcript[0]["from"] == "reporter"
    assert any(reference in line["text"] for line in transcript if line["from"] == "bot")


def test_an_emergency_gets_999_first_and_is_logged_at_once(terminal: Terminal) -> None:
    turns = terminal.chat("+447700900002", [
        "hes outside my door right now with a knife saying hes going to kill me",
    ])
    first = turns[0]
    assert first.startswith("If you or anyone is in danger right now, please call 999 now.")
    reference = reference_in(first)
    case = terminal.case(reference)
    assert case["priority"] == "P1" and case["emergency"] is True and case["status"] == "open"
    assert any(a["kind"] == "alert_officer" for a in case["scheduled_actions"])


def test_an_advocates_report(terminal: Terminal) -> None:
    turns = terminal.converse(
        "jo.patel@mind.example",
        "I'm a support worker writing on behalf of my client Mrs Khan, a group of youths keep "
        "intimidating her outside her flat and banging on her windows",
        ROUTINE | {
            "your name, and your organisation": "Jo Patel, support worker at Mind",
            "name of the person you're reporting for": "Mrs Amina Khan",
            "What is their address": "3 Rowan Way, DH2 1AA",
            "How can we contact them": "07700 900456",
            "agreed to you reporting this": "yes",
            "How would they like us to contact them": "1",
            "because of someone's race": "not sure",
            "Which of these apply": "1 3",
            "put you in touch with support": "yes",
        },
    )
    reference = reference_in(turns[-1])
    assert "We'll contact Mrs Amina Khan by" in turns[-1]
    case = terminal.case(reference)
    assert case["advocate"]["name"] == "Jo Patel, support worker at Mind"
    assert case["reporter"]["name"] == "Mrs Amina Khan"
    assert case["preferred_contact"] == "phone"


def test_an_anonymous_report(terminal: Terminal) -> None:
    turns = terminal.converse(
        "+447700900003",
        "people dealing drugs from flat 9 all hours, cars pulling up every few minutes",
        ROUTINE | {"give your name": "2"},
    )
    ack = turns[-1]
    reference = reference_in(ack)
    assert "As you're anonymous we won't contact you" in ack
    case = terminal.case(reference)
    assert case["anonymous"] is True and case["reporter"] is None
    kinds = {a["kind"] for a in case["scheduled_actions"]}
    assert "update_reminder" not in kinds


def test_a_not_asb_report(terminal: Terminal) -> None:
    turns = terminal.chat("+447700900004", [
        "I can hear the couple next door talking in their kitchen",
        "1",            # that's right
        "no",           # the hate question
    ])
    assert "everyday living" in turns[0]
    text = turns[-1]
    assert "friendly word" in text
    reference = reference_in(text)
    case = terminal.case(reference)
    assert case["not_asb"] is True and case["priority"] == "P3"
    again = terminal.chat("+447700900004", ["I can hear them talking in the kitchen again",
                                            "1", "no"])
    assert f"We gave you advice about this before ({reference}" in again[-1]


def test_a_graffiti_report(terminal: Terminal) -> None:
    turns = terminal.converse(
        "+447700900005", "someone has sprayed graffiti on the wall of the bin store",
        ROUTINE | {"Is the graffiti offensive": "yes"},
    )
    ack = turns[-1]
    reference = reference_in(ack)
    assert "remove the graffiti by Monday 23 November" in ack
    case = terminal.case(reference)
    jobs = [a for a in case["scheduled_actions"] if a["kind"] == "graffiti_job"]
    assert len(jobs) == 1


def test_adding_an_incident_to_an_existing_case_and_a_stranger_cannot(terminal: Terminal) -> None:
    first = terminal.converse("+447700900006", "my neighbour keeps threatening me on the stairs",
                              ROUTINE)
    reference = reference_in(first[-1])
    added = terminal.chat("+447700900006", [f"ref {reference} he did it again this morning"])
    assert added[0].startswith(f"Thank you. We've added this to {reference}.")
    case = terminal.case(reference)
    assert case["incidents"][-1]["description"] == "he did it again this morning"

    stranger = terminal.chat("+447700900999", [f"ref {reference} what is going on with this"])
    assert stranger[0] == ("Sorry, we can't add to that reference from here. If you need to "
                           "report something, just tell us what happened.")
    assert len(terminal.case(reference)["incidents"]) == 2


def test_a_reply_after_the_acknowledgement_can_be_added_to_the_case(terminal: Terminal) -> None:
    first = terminal.converse("+447700900008", "my neighbour keeps threatening me on the stairs",
                              ROUTINE)
    reference = reference_in(first[-1])
    turns = terminal.chat("+447700900008", ["he was at it again tonight", "1"])
    assert f"Is this about your report {reference}?" in turns[0]
    assert turns[1].startswith(f"Thank you. We've added this to {reference}.")


def test_a_conversation_resumed_after_a_gap(terminal: Terminal) -> None:
    terminal.chat("+447700900007", ["kids keep throwing stones at my windows", "1", "no"],
                  at=FRIDAY_4PM)
    later = terminal.chat("+447700900007", ["myself"], at="2026-11-21T09:30:00+00:00")
    assert later[0].startswith("Welcome back. Let's carry on with your report")
