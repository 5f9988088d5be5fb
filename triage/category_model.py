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
