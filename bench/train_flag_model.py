"""Train the flag model: a second opinion on hate, emergency and not-ASB.

Usage::

    .venv/bin/python bench/train_flag_model.py [--data FILE ...] [--out PATH]
                                               [--check FILE ...] [--epochs N]

The rules in ``triage/data/*.yaml`` decide hate, emergency and not-ASB. Phrase rules miss
wording no one has written a phrase for; a linear model over all of a report's words (word
pairs as well did no better) leans on many small cues at once and, measured on held-out sets
it was not trained on, catches some of those misses. ``triage/category_model.FlagModel`` adds
a flag the rules did not raise when this model is very sure of it (``THRESHOLDS``). One logistic
regression per flag, trained here in pure Python with AdaGrad, an L2 penalty and the rarer
answer weighted up, and shipped as ``triage/data/flag_model.json``: nothing is downloaded or
trained at run time.

With ``--check`` the model is trained on ``--data`` only and, for each check file (which must
not be in ``--data``), the rules alone are compared with the rules plus the model: that is how
to see whether it helps on reports it has not seen.
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

from train_category_model import DEFAULT_DATA, read

from triage.category_model import FLAGS, FlagModel, flag_features
from triage.text import normalise

ROOT = Path(__file__).resolve().parent.parent
DATA = DEFAULT_DATA  # dev + held-out sets already measured (listed there, never a glob)
DEFAULT_OUT = ROOT / "triage" / "data" / "flag_model.json"
THRESHOLDS = {"hate": 0.95, "emergency": 0.95, "not_asb": 0.9}
"""How sure the model must be to add a flag the rules did not raise; chosen on held-out sets
left out of training one at a time (see the module docstring)."""
UNWEIGHED = {
    "emergency": frozenset(
        "now right rn currently just moment asap quick quickly urgent urgently please pls plz "
        "help immediately tonight still happening hurry".split()
    )
}
"""Words a flag's model is not trained on. Whether danger is happening *now* is the rules'
call (now-markers, past-markers); the emergency model must be sure from what is described,
not from "right now" or "please help", which end many reports that are not dangerous."""


def train(
    reports: Sequence[dict[str, Any]],
    *,
    epochs: int = 15,
    rate: float = 0.5,
    l2: float = 1e-4,
    min_count: int = 2,
    keep: float = 0.02,
    seed: int = 7,
) -> dict[str, Any]:
    """Fit one model per flag and return them in the shape ``flag_model.json`` holds."""
    examples = [(sorted(flag_features(normalise(r["text"]).words)), r) for r in reports]
    counts = Counter(f for feats, _ in examples for f in feats)
    known = {f for f, n in counts.items() if n >= min_count}
    rows = [([f for f in feats if f in known], r) for feats, r in examples]
    weights: dict[str, dict[str, float]] = {}
    bias: dict[str, float] = {}
    for flag in FLAGS:
        positives = sum(bool(r[flag]) for _, r in rows)
        upweight = (len(rows) - positives) / max(positives, 1)
        w: dict[str, float] = {}
        g2: dict[str, float] = {}
        b, b2 = 0.0, 1e-8
        unweighed = UNWEIGHED.get(flag, frozenset())
        data = [([f for f in feats if f not in unweighed], r) for feats, r in rows]
        rng = random.Random(seed)
        for _ in range(epochs):
            rng.shuffle(data)
            for feats, report in data:
                z = b + sum(w.get(f, 0.0) for f in feats)
                p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
                yes = bool(report[flag])
                g = (p - 1.0) * upweight if yes else p
                b2 += g * g
                b -= rate * g / math.sqrt(b2)
                for f in feats:
                    gf = g + l2 * w.get(f, 0.0)
                    g2[f] = g2.get(f, 1e-8) + gf * gf
                    w[f] = w.get(f, 0.0) - rate * gf / math.sqrt(g2[f])
        weights[flag] = {f: round(v, 3) for f, v in sorted(w.items()) if abs(v) >= keep}
        bias[flag] = round(b, 3)
    return {
        "about": "flag model trained by bench/train_flag_model.py; do not edit",
        "bias": bias,
        "thresholds": THRESHOLDS,
        "weights": weights,
    }


def check(model: dict[str, Any], paths: Sequence[Path]) -> None:
    """Print, per check file and flag, the rules alone against the rules plus the model."""
    from triage import classifier

    for path in paths:
        reports = read([path])
        outcome: dict[str, dict[str, list[bool]]] = {}
        for name, chosen in (("rules", None), ("rules + model", FlagModel.from_data(model))):
            classifier.use_flag_model(chosen)
            found = [classifier.classify(r["text"]) for r in reports]
            outcome[name] = {flag: [bool(getattr(c, flag)) for c in found] for flag in FLAGS}
        classifier.use_shipped_flag_model()
        for flag in FLAGS:
            truth = [bool(r[flag]) for r in reports]
            shown = []
            for name, calls in outcome.items():
                said = calls[flag]
                tp = sum(s and t for s, t in zip(said, truth, strict=True))
                fp = sum(s and not t for s, t in zip(said, truth, strict=True))
                fn = sum(t and not s for s, t in zip(said, truth, strict=True))
                shown.append(
                    f"{name}: recall {tp / max(tp + fn, 1):.1%} precision "
                    f"{tp / max(tp + fp, 1):.1%} ({tp} right, {fp} wrong, {fn} missed)"
                )
            print(f"{path.name} {flag}: " + "; ".join(shown))


def main(argv: Sequence[str] | None = None) -> int:
    """Train, then write the model or check it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, nargs="*", default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", type=Path, nargs="*", default=None)
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args(argv)
    data = [p for p in (args.data or DATA) if p.exists()]
    if args.check and {p.resolve() for p in args.check} & {p.resolve() for p in data}:
        parser.error("--check files must not be trained on")
    model = train(read(data), epochs=args.epochs)
    if args.check:
        check(model, args.check)
        return 0
    args.out.write_text(json.dumps(model, separators=(",", ":"), sort_keys=True) + "\n")
    sizes = ", ".join(f"{flag} {len(model['weights'][flag])}" for flag in FLAGS)
    print(f"wrote {args.out} (features per flag: {sizes})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
