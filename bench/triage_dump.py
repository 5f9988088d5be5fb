"""Dump every field of classify + decide_priority for every known report, to compare runs.

Usage::

    PYTHONPATH=. .venv/bin/python bench/triage_dump.py OUT.jsonl

Writes one JSON line per report, in a fixed order (``bench/data``, ``bench/heldout``,
``bench/timing`` and ``../shared/samples/triage_examples.jsonl``), holding the whole
:class:`~triage.classifier.Classification` and :class:`~triage.priority.PriorityDecision`
with every reason. A speed change to the triage engine must leave this file byte-identical:
``cmp before.jsonl after.jsonl``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Any

from triage.classifier import classify
from triage.priority import decide_priority

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    *sorted((ROOT / "bench" / "data").glob("*.jsonl")),
    *sorted((ROOT / "bench" / "heldout").glob("*.jsonl")),
    *sorted((ROOT / "bench" / "timing").glob("*.jsonl")),
    ROOT.parent / "shared" / "samples" / "triage_examples.jsonl",
]


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def main(out: str) -> int:
    """Classify every report twice (cold, then with warm caches) and write the results."""
    from bench.triage_eval import DEFAULT_CONFIG, load_policy

    policy = load_policy(DEFAULT_CONFIG)
    lines: list[str] = []
    for source in SOURCES:
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines()):
            if not line.strip():
                continue
            report = json.loads(line)
            for attempt in ("cold", "warm") if source.name != "long_emails.jsonl" else ("cold",):
                result = classify(report["text"], report.get("channel"))
                decision = decide_priority(result, policy)
                record = {
                    "file": source.name,
                    "line": number,
                    "attempt": attempt,
                    "classification": _plain(result),
                    "decision": _plain(decision),
                }
                lines.append(json.dumps(record, ensure_ascii=False, sort_keys=True))
    Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
