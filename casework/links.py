"""Signed one-click links in officer alerts: "Acknowledge", "First contact made", "Graffiti
removed".

A link carries the verb, the case reference, the officer and when it was issued, signed with
the service's secret key (itsdangerous), so it cannot be forged or pointed at another case or
officer. Expiry is checked against the clock the caller passes in (tests control it).

For the console route that serves these links: answer a GET with a page holding one button that
POSTs the token back, and act only on the POST. Mail scanners (e.g. Safe Links) fetch every link
in a message; a GET that acknowledged an alert would let them acknowledge it for the officer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "casework.officer-action.v1"
CLOCK_SKEW = timedelta(minutes=5)
"""A link issued this far in the future (another server's clock) is still accepted."""
VERBS = frozenset({"ack", "contacted", "done"})
"""What a link may do: only the one-step actions; closing a case needs a reason, in words."""


@dataclass(frozen=True)
class ActionToken:
    """What a valid link asks for."""

    verb: str
    reference: str
    officer_id: str
    issued_at: datetime


def make_action_token(
    secret: str, *, verb: str, reference: str, officer_id: str, issued_at: datetime
) -> str:
    """A URL-safe signed token for one officer doing one thing to one case.

    Raises:
        ValueError: for a verb links may not carry.
    """
    if verb not in VERBS:
        raise ValueError(f"links can only {', '.join(sorted(VERBS))}; not {verb!r}")
    payload = {"v": verb, "r": reference, "o": officer_id, "t": int(issued_at.timestamp())}
    return str(URLSafeSerializer(secret, salt=SALT).dumps(payload))


def read_action_token(
    secret: str, token: str, *, now: datetime, max_age: timedelta
) -> ActionToken | None:
    """The action a token asks for, or None if it is forged, malformed or older than
    ``max_age``."""
    try:
        payload = URLSafeSerializer(secret, salt=SALT).loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    verb, reference, officer, issued = (payload.get(k) for k in ("v", "r", "o", "t"))
    if not (
        isinstance(verb, str)
        and verb in VERBS
        and isinstance(reference, str)
        and isinstance(officer, str)
        and isinstance(issued, int)
    ):
        return None
    issued_at = datetime.fromtimestamp(issued, tz=now.tzinfo)
    age = now - issued_at
    if age < -CLOCK_SKEW or age > max_age:
        return None
    return ActionToken(verb, reference, officer, issued_at)


@dataclass(frozen=True)
class ActionLinks:
    """Where links point and how they are signed.

    Args:
        secret: the service's secret key.
        base_url: the public base URL; links are ``<base>/officer/act/<token>``.
        max_age: how long a link works.
    """

    secret: str
    base_url: str
    max_age: timedelta = timedelta(days=7)

    def url(self, verb: str, reference: str, officer_id: str, issued_at: datetime) -> str:
        """The link for ``officer_id`` to ``verb`` case ``reference``."""
        token = make_action_token(
            self.secret, verb=verb, reference=reference, officer_id=officer_id, issued_at=issued_at
        )
        return f"{self.base_url.rstrip('/')}/officer/act/{token}"

    def read(self, token: str, now: datetime) -> ActionToken | None:
        """The action a token from one of our links asks for, if it is valid now."""
        return read_action_token(self.secret, token, now=now, max_age=self.max_age)
