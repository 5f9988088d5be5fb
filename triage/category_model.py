"""The category tie-breaker: a small linear model over a report's words.

The rules score every category whose words they find; when two are close ("bins" and
"threatened" in one report) the wording as a whole is a better guide than either phrase. This
model, multinomial logistic regression over the normalised words of a report, is trained
by ``bench/train_category_model.py`` on the labelled reports and shipped as
``data/category_model.json``. Inference is pure Python: only the categories the rules already
found are scored, so it never invents a category, and it never decides hate, emergency or
not-ASB, which stay with the rules.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, reduce
from importlib import resources
from itertools import repeat
from operator import add
from typing import Any

_SENTENCE_END = "."
_MODEL_FILE = "category_model.json"


_COLUMNS: list[tuple[CategoryModel, dict[str, dict[str, float]]]] = []


def _columns(model: CategoryModel) -> dict[str, dict[str, float]]:
    """The model's weights per category, then per word (kept for the last model asked)."""
    if _COLUMNS and _COLUMNS[0][0] is model:
        return _COLUMNS[0][1]
    columns: dict[str, dict[str, float]] = {}
    for word, row in model.weights.items():
        for category, weight in row.items():
            columns.setdefault(category, {})[word] = weight
    _COLUMNS[:] = [(model, columns)]
    return columns


def features(words: Sequence[str]) -> set[str]:
    """The model's features: the distinct words of a report.

    Word pairs were tried as well and did no better on reports the model had not seen.
    """
    found = set(words)
    found.discard(_SENTENCE_END)
    return found


@dataclass(frozen=True, slots=True)
class CategoryModel:
    """Weights per feature and category, and a bias per category."""

    bias: Mapping[str, float]
    weights: Mapping[str, Mapping[str, float]]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CategoryModel:
        """A model from the mapping ``category_model.json`` holds."""
        weights = {
            str(f): {str(c): float(w) for c, w in row.items()}
            for f, row in data.get("weights", {}).items()
        }
        return cls(
            bias={str(c): float(b) for c, b in data.get("bias", {}).items()},
            weights=weights,
        )

    @staticmethod
    @lru_cache(maxsize=1)
    def shipped() -> CategoryModel:
        """The model shipped in ``triage/data`` (an empty one if there is none)."""
        path = resources.files("triage").joinpath("data", _MODEL_FILE)
        if not path.is_file():
            return CategoryModel(bias={}, weights={})
        return CategoryModel.from_data(json.loads(path.read_text(encoding="utf-8")))

    def probabilities(self, words: Sequence[str], among: Iterable[str]) -> dict[str, float]:
        """How strongly the words point to each of ``among``, summing to 1 over them.

        Args:
            words: The report's normalised words (:attr:`NormalisedText.words`).
            among: The categories to choose between (category codes).

        Returns:
            Category code to probability; empty when the model has no weights.
        """
        candidates = list(among)
        if not self.weights or not candidates:
            return {}
        logits = {c: self.bias.get(c, 0.0) for c in candidates}
        weights = self.weights
        common = weights.keys() & set(words)
        if len(logits) == len(candidates):
            # Per category, the same additions in the same order as word by word below, done
            # by reduce at C speed; a word without a weight adds 0.0, which changes no sum
            # (at most the sign of a zero, which no probability below sees).
            columns = _columns(self)
            for category in candidates:
                column = columns.get(category)
                if column is not None:
                    logits[category] = reduce(
                        add, map(column.get, common, repeat(0.0)), logits[category]
                    )
        else:
            for word in common:
                row = weights[word]
                for category in candidates:
                    weight = row.get(category)
                    if weight is not None:
                        logits[category] += weight
        top = max(logits.values())
        exps = {c: math.exp(v - top) for c, v in logits.items()}
        total = sum(exps.values())
        return {c: v / total for c, v in exps.items()}


_FLAG_FILE = "flag_model.json"
FLAGS: tuple[str, ...] = ("hate", "emergency", "not_asb")
"""The yes/no calls the flag model gives a second opinion on, in its weight order."""


def flag_features(words: Sequence[str]) -> set[str]:
    """The flag model's features: the distinct words, as for the category model.

    Word pairs as well did no better on held-out reports (hate and emergency both raised
    more false flags with them) and cost a tenth of the classifier's time.
    """
    return features(words)


@dataclass(frozen=True, slots=True)
class FlagModel:
    """A second opinion on hate, emergency and not-ASB: one logistic regression per flag.

    Trained by ``bench/train_flag_model.py`` on the labelled reports and shipped as
    ``data/flag_model.json``. The rules decide; the model only adds a flag the rules did not
    raise, when it is at least ``thresholds[flag]`` sure (and, for not-ASB, only where the
    rules found everyday-living words and nothing that rules it out).
    """

    bias: Mapping[str, float]
    weights: Mapping[str, Mapping[str, float]]
    thresholds: Mapping[str, float]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> FlagModel:
        """A model from the mapping ``flag_model.json`` holds."""
        weights = {
            str(flag): {str(f): float(w) for f, w in column.items()}
            for flag, column in data.get("weights", {}).items()
        }
        return cls(
            bias={str(k): float(v) for k, v in data.get("bias", {}).items()},
            weights=weights,
            thresholds={str(k): float(v) for k, v in data.get("thresholds", {}).items()},
        )

    @staticmethod
    @lru_cache(maxsize=1)
    def shipped() -> FlagModel:
        """The model shipped in ``triage/data`` (one that never speaks if there is none)."""
        path = resources.files("triage").joinpath("data", _FLAG_FILE)
        if not path.is_file():
            return FlagModel(bias={}, weights={}, thresholds={})
        return FlagModel.from_data(json.loads(path.read_text(encoding="utf-8")))

    def probability(self, flag: str, found: set[str]) -> float:
        """How sure the model is that ``flag`` holds, given :func:`flag_features`."""
        column = self.weights.get(flag)
        if not column:
            return 0.0
        # fsum: exactly rounded, so the answer does not depend on the set's order
        logit = math.fsum(map(column.get, found, repeat(0.0))) + self.bias.get(flag, 0.0)
        if logit < -30.0:
            return 0.0
        return 1.0 / (1.0 + math.exp(-min(logit, 30.0)))

    def says(self, flag: str, found: set[str]) -> float | None:
        """The probability if it reaches the flag's threshold, else None."""
        threshold = self.thresholds.get(flag)
        if threshold is None:
            return None
        share = self.probability(flag, found)
        return share if share >= threshold else None

    def evidence(self, flag: str, found: set[str], limit: int = 3) -> list[str]:
        """The report's words that weigh most towards ``flag``."""
        column = self.weights.get(flag, {})
        heavy = sorted(
            (f for f in found if column.get(f, 0.0) > 0),
            key=lambda f: (-column[f], f),  # ties by the word: same report, same reasons
        )[:limit]
        return heavy
