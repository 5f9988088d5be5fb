"""Score triage against labelled reports and time it.

Usage::

    .venv/bin/python bench/triage_eval.py [--samples PATH] [--data FILE ...] [--heldout]
                                          [--config PATH] [--json] [--repeats N] [--errors]

Scores ``../shared/samples/triage_examples.jsonl`` and every ``bench/data/*.jsonl`` (or the
files given with ``--data``): the development figures. With ``--heldout`` it also scores every
``bench/heldout/*.jsonl``, each file on its own and never folded into the development figures:
held-out reports are for measuring, not for tuning. Each line is one labelled report::

    {"id": "s001", "channel": "sms", "text": "...", "cats": ["hate_incident", ...],
     "hate": true, "emergency": false, "not_asb": false, "pri": ["P1"]}

Prints, per file and overall: hate recall and precision, emergency recall and precision,
not-ASB precision, priority accuracy (the priority is in ``pri``), first-category accuracy
(the top category is in ``cats``) and reports per second on one core (classify + priority).

Speed is timed in this one process, pinned to one CPU, after two warm-up passes (vocabularies
compiled, per-word caches filled), over the development reports plus the long emails in
``bench/timing/*.jsonl`` (unlabelled, for timing only): SMS, chat and emails of every length.
Each of ``--repeats`` passes is timed; the best pass is the core's speed (the headline
``messages_per_second``), the median shows what other work on the machine took from it; both
are in ``throughput`` with the time per report. ``--json`` prints one object whose top-level
figures are the development overall ones plus ``messages_per_second``; the same object is
written to ``bench/results/triage_eval.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from triage.classifier import classify
from triage.policy import Policy
from triage.priority import decide_priority

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SAMPLES = ROOT.parent / "shared" / "samples" / "triage_examples.jsonl"
DEFAULT_CONFIG = ROOT / "config.yaml"
RESULTS = ROOT / "bench" / "results" / "triage_eval.json"
HELDOUT = ROOT / "bench" / "heldout"
TIMING = ROOT / "bench" / "timing"


def default_policy() -> Policy:
    """The policy used when there is no config file: the typical published targets."""
    return Policy.model_validate(
        {
            "name": "bench default",
            "nation": "england_and_wales",
            "priorities": {
                "P1": {"label": "high", "first_contact": "1 working day"},
                "P2": {"label": "medium", "first_contact": "5 working days"},
                "P3": {"label": "standard", "first_contact": "10 working days"},
            },
            "performance": {"homes": 10000},
        }
    )


def load_policy(path: Path) -> Policy:
    """The ``policy`` section of a config file, or the default policy if there is none."""
    if not path.exists():
        return default_policy()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Policy.model_validate(data["policy"])


@dataclass
class Tally:
    """Counts for one data set."""

    reports: int = 0
    hate_tp: int = 0
    hate_fp: int = 0
    hate_fn: int = 0
    emergency_tp: int = 0
    emergency_fp: int = 0
    emergency_fn: int = 0
    not_asb_tp: int = 0
    not_asb_fp: int = 0
    priority_ok: int = 0
    category_ok: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        """Fold another tally into this one."""
        for name in (
            "reports hate_tp hate_fp hate_fn emergency_tp emergency_fp emergency_fn "
            "not_asb_tp not_asb_fp priority_ok category_ok"
        ).split():
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    def figures(self) -> dict[str, Any]:
        """Rates as fractions (None where there is nothing to divide by)."""

        def rate(hit: int, total: int) -> float | None:
            return round(hit / total, 4) if total else None

        return {
            "reports": self.reports,
            "hate_recall": rate(self.hate_tp, self.hate_tp + self.hate_fn),
            "hate_precision": rate(self.hate_tp, self.hate_tp + self.hate_fp),
            "emergency_recall": rate(self.emergency_tp, self.emergency_tp + self.emergency_fn),
            "emergency_precision": rate(self.emergency_tp, self.emergency_tp + self.emergency_fp),
            "not_asb_precision": rate(self.not_asb_tp, self.not_asb_tp + self.not_asb_fp),
            "priority_accuracy": rate(self.priority_ok, self.reports),
            "first_category_accuracy": rate(self.category_ok, self.reports),
        }


def read_reports(path: Path) -> list[dict[str, Any]]:
    """Labelled reports from a JSON-lines file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def score(reports: Iterable[dict[str, Any]], policy: Policy) -> Tally:
    """Classify and prioritise every report and count agreements with the labels."""
    tally = Tally()
    for report in reports:
        result = classify(report["text"], report.get("channel"))
        decision = decide_priority(result, policy)
        tally.reports += 1
        label_hate, label_emergency = bool(report["hate"]), bool(report["emergency"])
        label_not_asb = bool(report["not_asb"])
        tally.hate_tp += result.hate and label_hate
        tally.hate_fp += result.hate and not label_hate
        tally.hate_fn += label_hate and not result.hate
        tally.emergency_tp += result.emergency and label_emergency
        tally.emergency_fp += result.emergency and not label_emergency
        tally.emergency_fn += label_emergency and not result.emergency
        tally.not_asb_tp += result.not_asb and label_not_asb
        tally.not_asb_fp += result.not_asb and not label_not_asb
        priority_ok = decision.priority.value in report["pri"]
        category_ok = result.category.value in report["cats"]
        tally.priority_ok += priority_ok
        tally.category_ok += category_ok
        wrong = [
            name
            for name, ok in (
                ("hate", result.hate == label_hate),
                ("emergency", result.emergency == label_emergency),
                ("not_asb", result.not_asb == label_not_asb),
                ("priority", priority_ok),
                ("category", category_ok),
            )
            if not ok
        ]
        if wrong:
            tally.errors.append(
                {
                    "id": report.get("id"),
                    "wrong": wrong,
                    "text": report["text"][:160],
                    "got": {
                        "category": result.category.value,
                        "hate": result.hate,
                        "emergency": result.emergency,
                        "not_asb": result.not_asb,
                        "priority": decision.priority.value,
                    },
                    "want": {k: report[k] for k in ("cats", "hate", "emergency", "not_asb", "pri")},
                    "reasons": list(decision.reasons[-2:]) + list(result.reasons[:6]),
                }
            )
    return tally


def _one_core() -> str:
    """Keep this process on one CPU, so that the figure is one core's; say which."""
    try:
        cpu = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):  # not Linux: the process still runs one thread
        return "one thread (not pinned)"
    return f"pinned to CPU {cpu}"


def throughput(texts: Sequence[str], policy: Policy, repeats: int) -> dict[str, Any]:
    """Reports per second for classify + decide_priority, in this one process on one core.

    Every text is classified twice first, so that the vocabularies are compiled and the
    per-word caches warm, as in a running service. Then each repeat times one pass over all
    the texts (with what start-up loaded frozen out of the garbage collector's scans, as
    ``intake serve`` does); the best pass is the core's speed, the median shows how much
    other work on the machine took from it. Only per-word work is cached: every report is
    read in full each time.
    """
    if not texts:
        return {"best": 0, "median": 0}
    core = _one_core()
    for _ in range(2):
        for text in texts:
            decide_priority(classify(text), policy)
    gc.freeze()  # as intake serve does after start-up: the vocabularies are never freed
    passes: list[float] = []
    for _ in range(max(repeats, 1)):
        started = time.perf_counter()
        for text in texts:
            decide_priority(classify(text), policy)
        passes.append(time.perf_counter() - started)
    best, median = min(passes), statistics.median(passes)
    return {
        "best": round(len(texts) / best),
        "median": round(len(texts) / median),
        "us_per_report_best": round(best / len(texts) * 1e6, 1),
        "us_per_report_median": round(median / len(texts) * 1e6, 1),
        "reports_per_pass": len(texts),
        "longest_report_chars": max(map(len, texts)),
        "repeats": len(passes),
        "core": core,
    }


def timing_texts(texts: Sequence[str]) -> list[str]:
    """The scored reports' texts plus the long emails kept for timing only."""
    extra = [r["text"] for path in sorted(TIMING.glob("*.jsonl")) for r in read_reports(path)]
    return [*texts, *extra]


def _score_files(
    files: Sequence[Path], policy: Policy, errors: bool
) -> tuple[Tally, dict[str, dict[str, Any]], list[str]]:
    overall = Tally()
    per_file: dict[str, dict[str, Any]] = {}
    texts: list[str] = []
    for path in files:
        reports = read_reports(path)
        texts.extend(r["text"] for r in reports)
        tally = score(reports, policy)
        overall.add(tally)
        per_file[path.name] = tally.figures()
        if errors:
            per_file[path.name]["errors"] = tally.errors
    return overall, per_file, texts


def _print_figures(name: str, figures: dict[str, Any]) -> None:
    print(f"\n{name}")
    for key, value in figures.items():
        if key == "errors":
            continue
        shown = value if not isinstance(value, float) else f"{value:.1%}"
        shown = "n/a" if value is None else shown
        print(f"  {key:<24} {shown}")
    for error in figures.get("errors", []):
        print(f"  ! {error['id']} {error['wrong']} {error['text']!r}")
        print(f"      got {error['got']} want {error['want']}")
        for reason in error["reasons"]:
            print(f"      - {reason}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--data", type=Path, nargs="*", default=None)
    parser.add_argument(
        "--heldout", action="store_true", help="also score every bench/heldout/*.jsonl, apart"
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed passes over the reports (best and median)"
    )
    parser.add_argument("--errors", action="store_true", help="list every disagreement")
    args = parser.parse_args(argv)

    policy = load_policy(args.config)
    files: list[Path] = [args.samples] if args.samples.exists() else []
    if args.data is None:
        files += sorted((ROOT / "bench" / "data").glob("*.jsonl"))
    else:
        files += args.data
    overall, per_file, texts = _score_files(files, policy, args.errors)
    speeds = throughput(timing_texts(texts), policy, args.repeats)
    speed = speeds["best"]
    result: dict[str, Any] = {
        "policy": policy.name,
        **{k: v for k, v in overall.figures().items() if k != "reports"},
        "messages_per_second": speed,
        "reports_per_second": speed,
        "throughput": speeds,
        "files": per_file,
        "overall": overall.figures(),
    }
    if args.heldout:
        held = sorted(HELDOUT.glob("*.jsonl"))
        _, held_files, _ = _score_files(held, policy, args.errors)
        result["heldout"] = {"files": held_files}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"policy: {policy.name}")
    print("\n== development ==")
    for name, figures in [*per_file.items(), ("development overall", result["overall"])]:
        _print_figures(name, figures)
    if args.heldout:
        print("\n== held out (not part of the development figures) ==")
        for name, figures in result["heldout"]["files"].items():
            _print_figures(name, figures)
    print(
        f"\nreports per second (one core, classify + priority): {speed} best, "
        f"{speeds['median']} median of {speeds['repeats']} passes over "
        f"{speeds['reports_per_pass']} reports ({speeds['us_per_report_best']} us per report "
        f"at best; {speeds['core']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
