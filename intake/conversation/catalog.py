"""The message catalog: every word the bot says, by id, one YAML file per language."""

from __future__ import annotations

import string
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog"


class _KeepMissing(dict[str, Any]):
    """Leaves ``{placeholders}`` it has no value for, so a later pass can fill them."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Catalog:
    """Texts by id. A missing id is a bug and fails loudly, never a blank message."""

    def __init__(self, texts: Mapping[str, str], language: str) -> None:
        self.texts = dict(texts)
        self.language = language

    @classmethod
    def load(cls, language: str = "en") -> Catalog:
        """The catalog for ``language`` (``catalog/<language>.yaml``)."""
        return _load(language)

    def has(self, key: str) -> bool:
        """True if the catalog holds ``key``."""
        return key in self.texts

    def text(self, key: str, **params: Any) -> str:
        """The text for ``key`` with ``params`` filled in; unknown placeholders are kept."""
        try:
            template = self.texts[key]
        except KeyError:
            raise KeyError(f"message catalog {self.language!r} has no text {key!r}") from None
        return string.Formatter().vformat(template, (), _KeepMissing(params))

    def placeholders(self, key: str) -> set[str]:
        """The ``{names}`` a text expects."""
        return {name for _, name, _, _ in string.Formatter().parse(self.texts[key]) if name}


@lru_cache(maxsize=8)
def _load(language: str) -> Catalog:
    path = CATALOG_DIR / f"{language}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of message ids to texts")
    return Catalog({str(k): str(v) for k, v in data.items()}, language)
