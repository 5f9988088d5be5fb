"""Console accounts: argon2 passwords, server-side sessions, lockout and CSRF tokens.

A session is a random token in a signed, HttpOnly, SameSite=Strict cookie; the database keeps
only its SHA-256, with when it was last used and when it must end. Signing out ends the row, so
a copied cookie is useless afterwards. A session unused for ``session_idle`` or older than
``session_longest`` is over.

Every form that changes something carries a token derived from the session (HMAC with the
service's secret), and the request must come from this host (``Sec-Fetch-Site``, ``Origin`` or
``Referer``). The sign-in form, which has no session yet, is tied the same way to a short-lived
signed cookie of its own.

Wrong passwords are counted per account: after ``lockout_after`` in a row the account is locked
for ``lockout_for`` (``intake users unlock`` ends it sooner). An unknown name costs the same
hashing time as a known one and gets the same answer, so the form does not tell who has an
account.

Failed sign-ins are also counted per client address (:class:`FailedSignIns`), whatever account
they tried: after ``failed_sign_ins_per_ip`` within ``failed_sign_ins_window`` that address gets
429 until the oldest of them is older than the window, without its password being checked. The
address is the connection's, as everywhere in the app: uvicorn replaces it with the
X-Forwarded-For client only for connections from ``http.trusted_proxies``. IPv6 addresses count
per /64 (one subscriber's block). The counts live in this process's memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from casework.console.config import ConsoleSettings
from casework.context import MANAGER_ROLES
from storage.models import AuditEvent, ConsoleSession, Officer
from storage.uow import Storage

ROLES: Final = ("officer", "manager", "admin", "caretaker")
"""Console roles: officers work their own cases, managers every case and the reports, admins
also the audit trail, caretakers only the graffiti job board (no reporter's personal data)."""
CASE_ROLES: Final = frozenset({"officer", "manager", "admin"})
REPORT_ROLES: Final = MANAGER_ROLES
AUDIT_ROLES: Final = frozenset({"admin"})
JOB_ROLES: Final = frozenset({"caretaker", "manager", "admin"})

SESSION_COOKIE: Final = "console_session"
LOGIN_COOKIE: Final = "console_login"
COOKIE_PATH: Final = "/console"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
LOGIN_FORM_LIFETIME: Final = 2 * 60 * 60
TOUCH_EVERY: Final = timedelta(minutes=1)
"""A session's last use is written at most this often (not on every page)."""
MIN_PASSWORD_LENGTH: Final = 12
MAX_PASSWORD_LENGTH: Final = 1024


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (blocking, tens of milliseconds: use a thread).

    Raises:
        ValueError: the password is shorter than :data:`MIN_PASSWORD_LENGTH` characters.
    """
    problem = password_problem(password)
    if problem:
        raise ValueError(problem)
    return _hasher().hash(password)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"a password can have at most {MAX_PASSWORD_LENGTH} characters"
    return None


def _verify(stored: str | None, password: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches; a fresh hash if the stored one's parameters are old."""
    hasher = _hasher()
    try:
        hasher.verify(stored or _dummy_hash(), password[:MAX_PASSWORD_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    if stored is None:
        return False, None
    return True, hasher.hash(password) if hasher.check_needs_rehash(stored) else None


def can_sign_in(officer: Officer) -> bool:
    """An account with a password that is active in the team (or made for the console)."""
    return officer.password_hash is not None and (officer.active or officer.console_only)


def token_hash(token: str) -> str:
    """What the database keeps of a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is signed in, for this request."""

    officer_id: str
    name: str
    role: str
    session_id: str
    csrf_token: str

    @property
    def actor(self) -> str:
        """How the audit trail names them."""
        return f"officer:{self.officer_id}"

    @property
    def sees_every_case(self) -> bool:
        return self.role in MANAGER_ROLES

    @property
    def works_cases(self) -> bool:
        return self.role in CASE_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class SignIn:
    """The result of a sign-in attempt: the new session's token, or nothing."""

    token: str | None
    officer_id: str | None = None
    role: str | None = None


class Accounts:
    """Signs officers in and out and recognises their sessions.

    Args:
        storage: the database.
        settings: lockout and session lengths.
        clock: the time now.
        secret_key: signs cookies and derives CSRF tokens.
        cookie_secure: cookies only over HTTPS.
    """

    def __init__(
        self,
        storage: Storage,
        settings: ConsoleSettings,
        clock: Callable[[], datetime],
        secret_key: str,
        cookie_secure: bool,
    ) -> None:
        if len(secret_key) < 16:
            raise ValueError("the console needs a secret key of at least 16 characters")
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self.cookie_secure = cookie_secure
        self._secret = secret_key.encode("utf-8")
        self._session_signer = URLSafeTimedSerializer(secret_key, salt="console.session")
        self._login_signer = URLSafeTimedSerializer(secret_key, salt="console.login")

    # --- signing in ---------------------------------------------------------------------------

    async def sign_in(self, username: str, password: str) -> SignIn:
        """Check a name and password; on success, a new session (and the failures reset).

        Every attempt is audited; the answer never says which part was wrong.
        """
        name = username.strip().lower()[:64]
        now = self.clock()
        async with self.storage.session() as session:
            officer = await session.get(Officer, name) if name else None
            stored = officer.password_hash if officer is not None else None
            usable = officer is not None and can_sign_in(officer)
            locked = bool(
                officer is not None and officer.locked_until and officer.locked_until > now
            )
        matched, rehashed = await asyncio.to_thread(_verify, stored if usable else None, password)
        actor = f"officer:{name}" if officer is not None else "anonymous"
        async with self.storage.unit_of_work() as uow:
            if officer is None or not usable:
                uow.session.add(
                    AuditEvent(
                        at=now,
                        actor=actor,
                        action="console.sign_in_refused",
                        detail={"username": name, "why": "no such account"},
                    )
                )
                return SignIn(None)
            if locked:
                uow.session.add(
                    AuditEvent(
                        at=now,
                        actor=actor,
                        action="console.sign_in_refused",
                        detail={"why": "locked"},
                    )
                )
                return SignIn(None)
            if not matched:
                await self._count_failure(uow.session, officer.id, now)
                return SignIn(None)
            values: dict[str, object] = {
                "failed_logins": 0,
                "locked_until": None,
                "last_login_at": now,
            }
            if rehashed:
                values["password_hash"] = rehashed
            await uow.session.execute(
                update(Officer).where(Officer.id == officer.id).values(**values)
            )
            token = secrets.token_urlsafe(32)
            uow.session.add(
                ConsoleSession(
                    id=token_hash(token),
                    officer_id=officer.id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.settings.session_longest,
                )
            )
            uow.session.add(AuditEvent(at=now, actor=actor, action="console.signed_in"))
        return SignIn(token, officer.id, officer.role)

    async def _count_failure(self, session: AsyncSession, officer_id: str, now: datetime) -> None:
        result = await session.execute(
            update(Officer)
            .where(Officer.id == officer_id)
            .values(failed_logins=Officer.failed_logins + 1)
            .returning(Officer.failed_logins)
        )
        failures = int(result.scalar_one())
        actor = f"officer:{officer_id}"
        session.add(
            AuditEvent(
                at=now,
                actor=actor,
                action="console.sign_in_refused",
                detail={"why": "wrong password", "in_a_row": failures},
            )
        )
        if failures >= self.settings.lockout_after:
            until = now + self.settings.lockout_for
            await session.execute(
                update(Officer)
                .where(Officer.id == officer_id)
                .values(failed_logins=0, locked_until=until)
            )
            session.add(
                AuditEvent(
                    at=now,
                    actor=actor,
                    action="console.account_locked",
                    detail={"until": until.isoformat(), "after": failures},
                )
            )

    async def sign_out(self, principal: Principal) -> None:
        """End the session now (the cookie is worthless afterwards)."""
        now = self.clock()
        async with self.storage.unit_of_work() as uow:
            await uow.session.execute(
                update(ConsoleSession)
                .where(ConsoleSession.id == principal.session_id, ConsoleSession.ended_at.is_(None))
                .values(ended_at=now)
            )
            uow.session.add(AuditEvent(at=now, actor=principal.actor, action="console.signed_out"))

    # --- recognising a session ------------------------------------------------------------------

    async def principal(self, request: Request) -> Principal | None:
        """Who the request's session cookie belongs to, or None (no, bad or ended session)."""
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            token = self._session_signer.loads(
                cookie, max_age=int(self.settings.session_longest.total_seconds())
            )
        except BadSignature:
            return None
        if not isinstance(token, str) or not 20 <= len(token) <= 100:
            return None
        session_id = token_hash(token)
        now = self.clock()
        async with self.storage.session() as session:
            found = (
                await session.execute(
                    select(ConsoleSession, Officer)
                    .join(Officer, Officer.id == ConsoleSession.officer_id)
                    .where(ConsoleSession.id == session_id)
                )
            ).first()
        if found is None:
            return None
        row, officer = found
        if (
            row.ended_at is not None
            or row.expires_at <= now
            or row.last_seen_at + self.settings.session_idle <= now
            or not can_sign_in(officer)
        ):
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            async with self.storage.unit_of_work() as uow:
                await uow.session.execute(
                    update(ConsoleSession)
                    .where(ConsoleSession.id == session_id)
                    .values(last_seen_at=now)
                )
        return Principal(
            officer_id=officer.id,
            name=officer.name,
            role=officer.role,
            session_id=session_id,
            csrf_token=self._mac("csrf", session_id),
        )

    def session_cookie(self, token: str) -> str:
        """The cookie value for a new session."""
        return self._session_signer.dumps(token)

    # --- CSRF -----------------------------------------------------------------------------------

    def csrf_ok(self, principal: Principal, given: str | None) -> bool:
        """True if ``given`` is this session's form token."""
        return bool(given) and hmac.compare_digest(
            str(given).encode("utf-8"), principal.csrf_token.encode("utf-8")
        )

    def new_login_form(self) -> tuple[str, str]:
        """A sign-in form's cookie value and the token its form must carry."""
        nonce = secrets.token_urlsafe(24)
        return self._login_signer.dumps(nonce), self._mac("login", nonce)

    def login_form_ok(self, cookie: str | None, given: str | None) -> bool:
        """True if the sign-in form's token belongs to the cookie this browser was given."""
        if not cookie or not given:
            return False
        try:
            nonce = self._login_signer.loads(cookie, max_age=LOGIN_FORM_LIFETIME)
        except BadSignature:
            return False
        if not isinstance(nonce, str):
            return False
        return hmac.compare_digest(given.encode("utf-8"), self._mac("login", nonce).encode())

    def _mac(self, purpose: str, value: str) -> str:
        message = f"console-{purpose}:{value}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def client_address(request: Request) -> str:
    """Who is asking, for counting: the client's address (an IPv6 address's /64)."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


class FailedSignIns:
    """Failed sign-ins per client address in a sliding window, in this process's memory.

    Args:
        allowed: failures within ``window`` before the address must wait.
        window: how long a failure counts.
        clock: the time now.
        most_addresses: addresses remembered at once; the least recently failing are forgotten
            first, so a flood of addresses cannot exhaust memory.
    """

    def __init__(
        self,
        allowed: int,
        window: timedelta,
        clock: Callable[[], datetime],
        most_addresses: int = 50_000,
    ) -> None:
        self.allowed = allowed
        self.window = window
        self.clock = clock
        self.most_addresses = most_addresses
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()

    def _recent(self, address: str) -> deque[datetime] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        since = self.clock() - self.window
        while failures and failures[0] <= since:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures

    def wait(self, address: str) -> timedelta | None:
        """How long ``address`` must wait before trying again, or None if it may try now."""
        failures = self._recent(address)
        if failures is None or len(failures) < self.allowed:
            return None
        return failures[-self.allowed] + self.window - self.clock()

    def failed(self, address: str) -> bool:
        """Count a failure; True if the address must now wait."""
        failures = self._recent(address)
        if failures is None:
            failures = self._failures[address] = deque(maxlen=self.allowed)
        failures.append(self.clock())
        self._failures.move_to_end(address)
        while len(self._failures) > self.most_addresses:
            self._failures.popitem(last=False)
        return len(failures) >= self.allowed


def cross_site(request: Request) -> str | None:
    """Why a POST does not look like it came from one of our own pages, or None if it does.

    ``Sec-Fetch-Site`` (which scripts cannot set) is the usual proof; an ``Origin`` or
    ``Referer`` that is present must name this host.
    """
    host = request.headers.get("host", "").lower()
    site = request.headers.get("sec-fetch-site")
    vouched = False
    if site is not None:
        if site != "same-origin":
            return f"Sec-Fetch-Site is {site!r}"
        vouched = True
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value and value != "null":
            if urlsplit(value).netloc.lower() != host:
                return f"{header.title()} does not match Host {host!r}"
            vouched = True
    return None if vouched else "no Origin, Referer or Sec-Fetch-Site from this host"
