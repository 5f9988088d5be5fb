"""Casework's words: the message catalog (``casework/catalog/<language>.yaml``) and the way
times and categories are written in it.

Texts live in the catalog, never in code, so a landlord can reword an alert or translate the
reporter messages without touching a job. A missing key fails loudly: a blank SMS to a frightened
reporter is worse than an error in the log.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from triage.calendar import WorkingCalendar
from triage.taxonomy import CATEGORY_LABELS, Category

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"


class Texts:
    """Texts by key, filled with ``str.format`` placeholders."""

    def __init__(self, texts: Mapping[str, str], language: str) -> None:
        self.texts = dict(texts)
        self.language = language

    @classmethod
    def load(cls, language: str = "en") -> Texts:
        """The catalog for ``language``."""
        return _load(language)

    def has(self, key: str) -> bool:
        """True if the catalog holds ``key``."""
        return key in self.texts

    def text(self, key: str, **params: Any) -> str:
        """The text for ``key`` with ``params`` filled in.

        Raises:
            KeyError: the key, or one of its placeholders, is missing.
        """
        try:
            template = self.texts[key]
        except KeyError:
            raise KeyError(f"casework catalog {self.language!r} has no text {key!r}") from None
        try:
            return template.format_map(params)
        except KeyError as exc:
            raise KeyError(f"casework text {key!r} needs {exc.args[0]!r}") from None

    def placeholders(self, key: str) -> set[str]:
        """The ``{names}`` a text expects."""
        return {name for _, name, _, _ in string.Formatter().parse(self.texts[key]) if name}


@lru_cache(maxsize=8)
def _load(language: str) -> Texts:
    path = CATALOG_DIR / f"{language}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of message ids to texts")
    return Texts({str(k): str(v) for k, v in data.items()}, language)


def when(calendar: WorkingCalendar, moment: datetime | None) -> str:
    """A time as officers read it, in the landlord's zone: ``Tue 1 Sep 17:00``."""
    if moment is None:
        return "-"
    local = calendar.local(moment)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def day(calendar: WorkingCalendar, moment: datetime) -> str:
    """A date as reporters and officers read it: ``Tuesday 1 September``."""
    local = calendar.local(moment)
    return f"{local:%A} {local.day} {local:%B}"


def category_words(category: str) -> str:
    """The category as officers say it (``Hate incident or hate crime``)."""
    try:
        return CATEGORY_LABELS[Category(category)]
    except ValueError:
        return category.replace("_", " ")
