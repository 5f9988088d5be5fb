"""One fixed pass of triage_eval's timing corpus, for counting instructions with callgrind.

Usage::

    PYTHONHASHSEED=0 PYTHONPATH=. valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python bench/triage_callgrind.py

Wall-clock figures on a shared two-core machine move by 10-20 % with other jobs; instruction
counts do not. This loads the same reports ``bench/triage_eval.py`` times (every
``bench/data`` report, the shared samples and the long emails), warms the vocabularies and
per-word caches with two passes, as triage_eval does, then runs one pass through
``operator.call``, so that ``--toggle-collect=_operator_call`` counts that pass and nothing
else (nothing else calls it: ``exec``, which imports use, would not do). The total Ir of the
output file is the cost of one pass.
"""

from __future__ import annotations

import gc
import operator
import sys

from bench.triage_eval import (
    DEFAULT_CONFIG,
    DEFAULT_SAMPLES,
    ROOT,
    load_policy,
    read_reports,
    timing_texts,
)
from triage.classifier import classify
from triage.priority import decide_priority


def main() -> int:
    """Warm up twice, then run the counted pass."""
    policy = load_policy(DEFAULT_CONFIG)
    files = [DEFAULT_SAMPLES, *sorted((ROOT / "bench" / "data").glob("*.jsonl"))]
    texts = timing_texts([r["text"] for path in files for r in read_reports(path)])
    for _ in range(2):
        for text in texts:
            decide_priority(classify(text), policy)
    gc.freeze()

    def one_pass() -> None:
        for text in texts:
            decide_priority(classify(text), policy)

    operator.call(one_pass)
    print(f"{len(texts)} reports in the counted pass", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
