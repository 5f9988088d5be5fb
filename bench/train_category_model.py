"""Train the category tie-breaker: a small linear model over a report's words.

Usage::

    .venv/bin/python bench/train_category_model.py [--data FILE ...] [--out PATH]
                                                   [--check FILE ...] [--epochs N]

The rules in ``triage/data/*.yaml`` decide hate, emergency and not-ASB, and score the
categories; where two categories are close, this model says which the words lean towards
(``triage/category_model.py``). It is multinomial logistic regression over the normalised
words of a report (the same normalisation the rules read), trained here in
pure Python with AdaGrad and an L2 penalty, and shipped as ``triage/data/category_model.json``
so that nothing is downloaded or trained at run time.

Each labelled report trains towards its first category that is neither hate nor not-ASB (a
hate report is still noise, threats or harassment underneath; not-ASB is the rules' call).
With ``--check`` the model is trained on ``--data`` only and the category accuracy of the
classifier with and without it is printed for the check files, which must not be in
``--data``: that is how to see whether the model helps on reports it has not seen.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from triage.category_model import CategoryModel, features
from triage.text import normalise

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = [
    ROOT.parent / "shared" / "samples" / "triage_examples.jsonl",
    *sorted((ROOT / "bench" / "data").glob("*.jsonl")),
    # held-out sets already measured and opened for development; never a glob, so that a
    # new held-out set is not trained on before it is scored
    ROOT / "bench" / "heldout" / "heldout_v1.jsonl",
    ROOT / "bench" / "heldout" / "heldout_v2.jsonl",
    ROOT / "bench" / "heldout" / "heldout_v3.jsonl",
    ROOT / "bench" / "heldout" / "heldout_v4.jsonl",
]
DEFAULT_OUT = ROOT / "triage" / "data" / "category_model.json"
_SKIP = {"hate_incident", "not_asb"}


def read(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Labelled reports from JSON-lines files."""
    reports: list[dict[str, Any]] = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                reports.append(json.loads(line))
    return reports


def target(report: dict[str, Any]) -> str | None:
    """The category a report trains towards, if any."""
    return next((c for c in report["cats"] if c not in _SKIP), None)


def train(
    reports: Sequence[dict[str, Any]],
    *,
    epochs: int = 40,
    rate: float = 0.5,
    l2: float = 0.01,
    min_count: int = 2,
    keep: float = 0.1,
    seed: int = 7,
) -> dict[str, Any]:
    """Fit the model and return it in the shape ``category_model.json`` holds."""
    examples = [
        (sorted(features(normalise(r["text"]).words)), label)
        for r in reports
        if (label := target(r)) is not None
    ]
    counts = Counter(f for feats, _ in examples for f in feats)
    vocabulary = sorted(f for f, n in counts.items() if n >= min_count)
    index = {f: i for i, f in enumerate(vocabulary)}
    classes = sorted({label for _, label in examples})
    k = len(classes)
    weights = [[0.0] * k for _ in vocabulary]
    bias = [0.0] * k
    grad_sq = [[1e-8] * k for _ in vocabulary]
    bias_sq = [1e-8] * k
    data = [
        ([index[f] for f in feats if f in index], classes.index(label)) for feats, label in examples
    ]
    rng = random.Random(seed)
    for _ in range(epochs):
        rng.shuffle(data)
        for rows, label in data:
            logits = bias[:]
            for row in rows:
                w = weights[row]
                for c in range(k):
                    logits[c] += w[c]
            top = max(logits)
            exps = [math.exp(v - top) for v in logits]
            total = sum(exps)
            grads = [e / total for e in exps]
            grads[label] -= 1.0
            for c in range(k):
                bias_sq[c] += grads[c] ** 2
                bias[c] -= rate * grads[c] / math.sqrt(bias_sq[c])
            for row in rows:
                w, g2 = weights[row], grad_sq[row]
                for c in range(k):
                    g = grads[c] + l2 * w[c]
                    g2[c] += g * g
                    w[c] -= rate * g / math.sqrt(g2[c])
    sparse: dict[str, dict[str, float]] = {}
    for feature, row in zip(vocabulary, weights, strict=True):
        kept = {classes[c]: round(v, 2) for c, v in enumerate(row) if abs(v) >= keep}
        if kept:
            sparse[feature] = kept
    return {
        "about": "category tie-breaker trained by bench/train_category_model.py; do not edit",
        "classes": classes,
        "bias": {c: round(b, 3) for c, b in zip(classes, bias, strict=True)},
        "weights": sparse,
    }


def check(model: dict[str, Any], paths: Sequence[Path]) -> None:
    """Print category accuracy with and without the model on the given files."""
    from triage import classifier

    for path in paths:
        reports = read([path])
        with_model = CategoryModel.from_data(model)
        results = {}
        for name, chosen in (("rules only", None), ("rules + model", with_model)):
            classifier.use_category_model(chosen)
            ok = sum(classifier.classify(r["text"]).category.value in r["cats"] for r in reports)
            results[name] = ok / len(reports)
        classifier.use_category_model(CategoryModel.shipped())
        shown = ", ".join(f"{name} {value:.1%}" for name, value in results.items())
        print(f"{path.name}: first-category accuracy {shown}")


def main(argv: Sequence[str] | None = None) -> int:
    """Train, then write the model or check it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, nargs="*", default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", type=Path, nargs="*", default=None)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args(argv)
    data = [p for p in (args.data or DEFAULT_DATA) if p.exists()]
    if args.check and set(args.check) & set(data):
        parser.error("--check files must not be trained on")
    model = train(read(data), epochs=args.epochs)
    if args.check:
        check(model, args.check)
        return 0
    args.out.write_text(json.dumps(model, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {args.out} ({len(model['weights'])} features, {len(model['classes'])} classes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
