"""Evidence files as the console serves them: only to someone who may open the case, always as
a download, never as something the browser might run.

Files are kept by the intake service under ``<data_dir>/evidence/<sha256>`` (named by their
content's SHA-256). The console finds a file by that name only (never by a path from the
database), checks the bytes still match the fingerprint taken when they arrived, and answers
with ``Content-Disposition: attachment``, ``X-Content-Type-Options: nosniff``, a sandboxing
Content-Security-Policy and the stored content type only when it is on :data:`SAFE_TYPES`
(otherwise ``application/octet-stream``). The tenant's file name is cleaned before it goes in a
header.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

SAFE_TYPES: Final = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/heic",
        "audio/mpeg",
        "audio/ogg",
        "audio/amr",
        "audio/mp4",
        "audio/wav",
        "audio/webm",
        "video/mp4",
        "video/3gpp",
        "video/quicktime",
        "video/webm",
        "application/pdf",
        "text/plain",
    }
)
"""Types a browser or the officer's computer will not run as a page or script. Anything else
(HTML, SVG, XML, JavaScript, office documents with macros ...) is sent as octet-stream."""
FALLBACK_TYPE: Final = "application/octet-stream"
FILE_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True)
class EvidenceFile:
    """A file ready to send: its bytes, the type to declare and the download's name."""

    data: bytes
    content_type: str
    filename: str


class Tampered(Exception):
    """The stored bytes no longer match the SHA-256 taken when they arrived."""


def served_type(stored: str) -> str:
    """The content type to declare: the stored one if it is safe, else octet-stream."""
    kind = stored.split(";", 1)[0].strip().lower()
    return kind if kind in SAFE_TYPES else FALLBACK_TYPE


def download_name(filename: str | None, fallback: str, content_type: str) -> str:
    """A file name safe for a header: no folders, control characters or quotes, at most 100
    characters; ``fallback`` plus an extension for the type when there is none."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        c
        for c in unicodedata.normalize("NFC", name)
        if unicodedata.category(c)[0] != "C" and c not in "\"'<>:;|?*"
    )
    name = name.strip(" .")[:100].strip(" .")
    if not name:
        known = content_type != FALLBACK_TYPE
        name = fallback + ((mimetypes.guess_extension(content_type) if known else None) or "")
    return name


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII name and the full name in RFC 5987 form."""
    ascii_name = _UNSAFE_NAME.sub("_", name.encode("ascii", "replace").decode("ascii"))
    ascii_name = ascii_name.replace("?", "_").strip() or "evidence"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def read_evidence(folder: Path, sha256: str) -> bytes | None:
    """The kept file named ``sha256`` in ``folder``, or None if it was not kept (blocking: run
    in a thread).

    Raises:
        Tampered: the bytes do not match the name.
    """
    if not _SHA256.fullmatch(sha256):
        return None
    path = folder / sha256
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise Tampered(sha256)
    return data
