"""``intake triage``: JSON lines in, one JSON line out per input, in order; bad lines reported."""

from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import REPO
from tests.intake.test_cli import INTAKE


def triage(lines: list[str]) -> tuple[int, list[dict[str, object]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    result = subprocess.run([INTAKE, "--config", str(REPO / "config.yaml"), "triage"],
                            input="\n".join(lines) + "\n", capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()]


def test_each_report_gets_one_line_in_order_with_the_documented_fields() -> None:
    code, out = triage([
        json.dumps({"text": "nabour threatend 2 stab me", "channel": "sms"}),
        json.dumps({"text": "lads on the corner shouted racist names at my wife"}),
        json.dumps({"text": "the smell of their cooking comes through the vents", "channel": "chat"}),
        json.dumps({"text": "hes outside my door now with a knife", "channel": "sms"}),
    ])
    assert code == 0
    assert [o["priority"] for o in out] == ["P1", "P1", "P3", "P1"]
    assert out[1]["hate_crime"] is True and out[1]["category"] == "hate_incident"
    assert out[2]["not_asb"] is True and out[2]["category"] == "not_asb"
    assert out[3]["emergency"] is True
    for item in out:
        assert set(item) == {"category", "categories", "hate_crime", "emergency", "not_asb",
                             "priority", "reasons"}
        assert item["reasons"], "every decision carries its reasons"


def test_a_malformed_line_gets_an_error_and_the_run_goes_on() -> None:
    code, out = triage(["{not json", json.dumps({"text": "loud musik every nite"}),
                        json.dumps({"words": "missing text"})])
    assert code == 1
    assert out[0]["line"] == 1 and "error" in out[0]
    assert out[1]["category"] == "noise"
    assert out[2]["line"] == 3 and "text" in str(out[2]["error"])


def test_each_reason_is_listed_once() -> None:
    """The priority's reasons repeat the emergency's (why it is P1); an officer reading the
    list sees each reason once, in the order first given."""
    code, out = triage([json.dumps({"text": "hes outside my door now with a knife"})])
    assert code == 0
    reasons = out[0]["reasons"]
    assert isinstance(reasons, list)
    assert any(str(r).startswith("emergency (") for r in reasons)
    assert len(reasons) == len(set(reasons))
