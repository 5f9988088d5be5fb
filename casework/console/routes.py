"""The officer console at ``/console``: server-rendered pages for officers, managers, admins and
caretakers (issue 7).

Every page is plain HTML from Jinja2 templates with autoescaping: tenant text is only ever text.
There is no inline script or style, so the strict Content-Security-Policy holds; the one small
script (``console.js``) only keeps the countdowns current, and everything works without it.
Every route but the sign-in form and the static files needs a session; every state change is a
POST from our own page carrying the session's CSRF token, and is audited. The case actions reuse
casework's officer commands (``casework.officer_replies``), so a case moved on from the console
behaves exactly as one moved on by a reply to an alert: the same checks, follow-ups cancelled,
messages queued and audit events.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from sqlalchemy import select, update

from casework.casefile import case_detail
from casework.console import auth
from casework.console.auth import (
    Accounts,
    FailedSignIns,
    Principal,
    client_address,
    cross_site,
)
from casework.console.charts import Chart, bar_chart, column_chart, percent
from casework.console.config import ConsoleSettings
from casework.console.evidence import (
    FILE_HEADERS,
    Tampered,
    content_disposition,
    download_name,
    read_evidence,
    served_type,
)
from casework.console.sandbox import SandboxMessage, SandboxSent
from casework.console.views import (
    STATUS_LABELS,
    QueueFilters,
    audit_events,
    audit_trail,
    case_for,
    category_label,
    countdown,
    graffiti_jobs,
    is_sensitive,
    officers,
    queue_page,
    readable,
    reporter_identity,
    staff_messages,
    update_every,
)
from casework.context import JobContext, officer_routes
from casework.officer_replies import OfficerCommand, act
from casework.reports import MonthlyReport, month_start, monthly_report, parse_month
from casework.texts import category_words, when
from storage.models import Case, Evidence, Officer, ScheduledAction
from storage.uow import Storage, UnitOfWork
from triage.taxonomy import CATEGORY_LABELS, Priority

log = logging.getLogger(__name__)

HERE: Final = Path(__file__).resolve().parent
PREFIX: Final = "/console"
PUBLIC_ROUTES: Final = frozenset({f"{PREFIX}/login", f"{PREFIX}/static/{{name}}"})
"""The only console routes that answer without a session."""

STATIC_FILES: Final[dict[str, str]] = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}
TEMPLATES: Final = (
    "login.html", "queue.html", "case.html", "jobs.html", "reports.html", "audit.html",
    "notice.html", "charts.html", "sandbox.html",
)
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
NO_STORE: Final = {"Cache-Control": "no-store"}
NOTICE_COOKIE: Final = "console_notice"
MAX_FORM_BYTES: Final = 64 * 1024
MAX_MESSAGE_CHARS: Final = 1_600
MAX_NOTE_CHARS: Final = 2_000
MAX_PLAN_CHARS: Final = 4_000
CONTACT_METHODS: Final[dict[str, str]] = {
    "phone": "Phone call",
    "in_person": "In person",
    "text": "Text message",
    "email": "Email",
    "letter": "Letter",
    "video": "Video call",
    "interpreter": "Through an interpreter",
}
HISTORY_ACTIONS: Final = frozenset(
    {
        "alert.sent",
        "alert.acknowledged",
        "alert.escalated",
        "first_contact.recorded",
        "first_contact.breached",
        "contact.recorded",
        "reporter.updated",
        "reporter.messaged",
        "action_plan.agreed",
        "case.assigned",
        "assignment.alert_sent",
        "case.closed",
        "closure.note",
        "case_review.flagged",
        "graffiti.job_sent",
        "graffiti.removed",
        "survey.sent",
        "survey.answered",
        "reminder.snoozed",
    }
)
"""Audit events shown as the case's history to whoever may see the case (views are for admins)."""
ROLE_HOME: Final = {"caretaker": "/jobs"}


class _Refused(Exception):
    """A request the console turns away, with the status and the words to show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class _Assets:
    templates: dict[str, Template]
    static: dict[str, bytes]
    versions: dict[str, str]


Form = dict[str, str]
Handler = Callable[[Request, Principal, Form], Awaitable[Response]]


def console_router(
    *,
    storage: Storage,
    settings_view: ConsoleSettings,
    clock: Callable[[], datetime],
    secret_key: str,
    cookie_secure: bool,
    wake: Callable[[], None] | None = None,
    sandbox: SandboxSent | None = None,
) -> APIRouter:
    """The console's routes, to include in the app (``app.include_router(...)``).

    Args:
        storage: the database.
        settings_view: what the console needs of the configuration (``console_settings``).
        clock: the time now, aware.
        secret_key: signs the cookies and derives the CSRF tokens.
        cookie_secure: send cookies over HTTPS only (on whenever the public URL is https).
        wake: called after a message is queued, to wake the outbox dispatcher early.
        sandbox: reads what the sandbox stand-ins sent (None: no channel is in sandbox mode).
    """
    return Console(
        storage, settings_view, clock, secret_key, cookie_secure, wake, sandbox
    ).router()


class Console:
    """The console's pages and actions (see :func:`console_router`)."""

    def __init__(
        self,
        storage: Storage,
        settings: ConsoleSettings,
        clock: Callable[[], datetime],
        secret_key: str,
        cookie_secure: bool,
        wake: Callable[[], None] | None = None,
        sandbox: SandboxSent | None = None,
    ) -> None:
        self.storage = storage
        self.sandbox = sandbox
        self.settings = settings
        self.clock = clock
        self.cookie_secure = cookie_secure
        self.wake = wake
        self.accounts = Accounts(storage, settings, clock, secret_key, cookie_secure)
        self.failed_sign_ins = FailedSignIns(
            settings.failed_sign_ins_per_ip, settings.failed_sign_ins_window, clock
        )
        self._notices = URLSafeTimedSerializer(secret_key, salt="console.notice")
        self._assets: _Assets | None = None
        self._assets_lock = asyncio.Lock()

    # --- routes ------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        """Every console route; all but the sign-in form and static files need a session."""
        router = APIRouter()
        cases, managers = auth.CASE_ROLES, auth.REPORT_ROLES
        everyone = frozenset(auth.ROLES)
        pages: tuple[tuple[str, str, Handler, Collection[str]], ...] = (
            ("", "GET", self._home, everyone),
            ("/", "GET", self._home, everyone),
            ("/queue", "GET", self._queue, cases),
            ("/cases/{reference}", "GET", self._case, cases),
            ("/cases/{reference}/evidence/{evidence_id}", "GET", self._evidence, cases),
            ("/cases/{reference}/acknowledge", "POST", self._acknowledge, cases),
            ("/cases/{reference}/contact", "POST", self._contact, cases),
            ("/cases/{reference}/plan", "POST", self._plan, cases),
            ("/cases/{reference}/message", "POST", self._message, cases),
            ("/cases/{reference}/assign", "POST", self._assign, managers),
            ("/cases/{reference}/close", "POST", self._close, cases),
            ("/jobs", "GET", self._jobs, auth.JOB_ROLES),
            ("/jobs/{reference}/done", "POST", self._job_done, auth.JOB_ROLES),
            ("/reports", "GET", self._reports, managers),
            ("/reports/monthly.csv", "GET", self._report_csv, managers),
            ("/reports/monthly.json", "GET", self._report_json, managers),
            ("/audit", "GET", self._audit, auth.AUDIT_ROLES),
            ("/sandbox", "GET", self._sandbox, managers),
            ("/sandbox/sent.json", "GET", self._sandbox_json, managers),
            ("/logout", "POST", self._logout, everyone),
        )
        for path, method, handler, roles in pages:
            router.add_api_route(
                PREFIX + path,
                self._guarded(handler, frozenset(roles), post=method == "POST"),
                methods=[method],
                include_in_schema=False,
                response_model=None,
            )
        public: tuple[tuple[str, str, Callable[..., Any]], ...] = (
            ("/login", "GET", self._login_page),
            ("/login", "POST", self._login),
            ("/static/{name}", "GET", self._static),
        )
        for path, method, endpoint in public:
            router.add_api_route(
                PREFIX + path, endpoint, methods=[method], include_in_schema=False,
                response_model=None,
            )
        return router

    def _guarded(
        self, handler: Handler, roles: frozenset[str], *, post: bool
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            principal = await self.accounts.principal(request)
            if principal is None:
                if post:
                    return await self._notice_page(
                        None, 403, "Not done", "Your session has ended. Sign in again, then "
                        "try once more.", link=(f"{PREFIX}/login", "Sign in"),
                    )
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                login = f"{PREFIX}/login?" + urlencode({"next": target})
                return _secured(RedirectResponse(login, status_code=303), NO_STORE)
            if principal.role not in roles:
                return await self._notice_page(
                    principal, 403, "Not available",
                    "Your account cannot open this page.",
                )
            form: dict[str, str] = {}
            try:
                if post:
                    form = await self._checked_form(request, principal)
                return await handler(request, principal, form)
            except _Refused as refused:
                return await self._notice_page(principal, refused.status, "Not done",
                                               refused.message)

        return endpoint

    async def _checked_form(self, request: Request, principal: Principal) -> dict[str, str]:
        reason = cross_site(request)
        if reason is not None:
            log.warning("console: refused %s from %s: %s", request.url.path,
                        principal.officer_id, reason)
            raise _Refused(403, "This form did not come from the console. Go back, reload "
                                "the page and try again.")
        form = await _read_form(request)
        token = request.headers.get(auth.CSRF_HEADER) or form.get(auth.CSRF_FIELD)
        if not self.accounts.csrf_ok(principal, token):
            log.warning("console: refused %s from %s: bad form token", request.url.path,
                        principal.officer_id)
            raise _Refused(403, "This form has expired. Go back, reload the page and try again.")
        return form

    # --- signing in and out -----------------------------------------------------------------

    async def _login_page(self, request: Request) -> Response:
        principal = await self.accounts.principal(request)
        if principal is not None:
            return _redirect(self._home_of(principal))
        return await self._login_form(request, next_url=request.query_params.get("next"))

    async def _login_form(
        self, request: Request, *, next_url: str | None, error: str | None = None,
        status: int = 200, username: str = "",
    ) -> Response:
        cookie, token = self.accounts.new_login_form()
        notice = self._read_notice(request)
        response = await self._render(
            "login.html", None, status=status, csrf_token=token, error=error,
            next_url=_safe_next(next_url) or "", username=username, notice=notice,
        )
        response.set_cookie(
            auth.LOGIN_COOKIE, cookie, max_age=auth.LOGIN_FORM_LIFETIME, path=auth.COOKIE_PATH,
            secure=self.cookie_secure, httponly=True, samesite="strict",
        )
        _clear_notice(response)
        return response

    async def _login(self, request: Request) -> Response:
        address = client_address(request)
        wait = self.failed_sign_ins.wait(address)
        if wait is not None:
            response = await self._login_form(
                request, next_url=None, status=429,
                error=(
                    "Too many failed sign-ins from your network. For everyone's safety, "
                    f"please wait {_minutes_up(wait)} before trying again, or ask an "
                    "administrator."
                ),
            )
            response.headers["Retry-After"] = str(max(1, int(wait.total_seconds() + 0.999)))
            return response
        try:
            if cross_site(request) is not None:
                raise _Refused(403, "x")
            form = await _read_form(request)
        except _Refused:
            return await self._login_form(
                request, next_url=None, status=403,
                error="This sign-in form has expired. Please try again.",
            )
        next_url = _safe_next(form.get("next"))
        username = form.get("username", "")[:64]
        if not self.accounts.login_form_ok(request.cookies.get(auth.LOGIN_COOKIE),
                                           form.get(auth.CSRF_FIELD)):
            return await self._login_form(
                request, next_url=next_url, status=403, username=username,
                error="This sign-in form has expired. Please try again.",
            )
        signed_in = await self.accounts.sign_in(username, form.get("password", ""))
        if signed_in.token is None:
            if self.failed_sign_ins.failed(address):
                log.warning("console: sign-ins from %s paused after %d failures", address,
                            self.settings.failed_sign_ins_per_ip)
                async with self.storage.unit_of_work() as uow:
                    await uow.audit.record(
                        "anonymous", "console.address_paused", at=self.clock(),
                        detail={"address": address,
                                "failures": self.settings.failed_sign_ins_per_ip,
                                "for": str(self.settings.failed_sign_ins_window)},
                    )
            return await self._login_form(
                request, next_url=next_url, status=401, username=username,
                error=(
                    "The username or password is not right, or the account is locked after "
                    f"{self.settings.lockout_after} wrong passwords in a row (for "
                    f"{_minutes(self.settings.lockout_for)}). Check them and try again, or ask "
                    "an administrator."
                ),
            )
        home = ROLE_HOME.get(signed_in.role or "", "/queue")
        response = _redirect(next_url or PREFIX + home)
        response.set_cookie(
            auth.SESSION_COOKIE, self.accounts.session_cookie(signed_in.token),
            max_age=int(self.settings.session_longest.total_seconds()), path=auth.COOKIE_PATH,
            secure=self.cookie_secure, httponly=True, samesite="strict",
        )
        response.delete_cookie(auth.LOGIN_COOKIE, path=auth.COOKIE_PATH)
        return response

    async def _logout(self, request: Request, principal: Principal, form: Form) -> Response:
        await self.accounts.sign_out(principal)
        response = self._with_notice(_redirect(f"{PREFIX}/login"), "You have signed out.")
        response.delete_cookie(auth.SESSION_COOKIE, path=auth.COOKIE_PATH)
        return response

    async def _home(self, request: Request, principal: Principal, form: Form) -> Response:
        return _redirect(self._home_of(principal))

    @staticmethod
    def _home_of(principal: Principal) -> str:
        return PREFIX + ROLE_HOME.get(principal.role, "/queue")

    # --- the queue -----------------------------------------------------------------------------

    async def _queue(self, request: Request, principal: Principal, form: Form) -> Response:
        now = self.clock()
        async with self.storage.session() as session:
            team = await officers(session)
            filters = QueueFilters.from_query(
                request.query_params,
                officers=[o.id for o in team],
                areas=[a.code for a in self.settings.areas],
            )
            page = await queue_page(
                session, filters, principal, now, self.settings.policy,
                page_size=self.settings.page_size,
            )
        names = {o.id: o.name for o in team}
        rows = [
            {
                "row": row,
                "category": category_label(row.category),
                "officer": names.get(row.officer_id or "", row.officer_id or "Not allocated"),
                "area": self.settings.area_names.get(row.area_code or "", row.area_code or "-"),
                "countdown": countdown(row.due_at, now),
                "due": when(self.settings.calendar, row.due_at),
                "received": when(self.settings.calendar, row.received_at),
            }
            for row in page.rows
        ]
        return await self._render(
            "queue.html", principal, request=request, page=page, rows=rows, filters=filters,
            statuses=STATUS_LABELS, priorities=[p.value for p in Priority],
            categories=[(c.value, label) for c, label in CATEGORY_LABELS.items()],
            team=[o for o in team if o.role in auth.CASE_ROLES],
            areas=self.settings.areas,
            previous_link=_query_link(filters.query(page=str(page.page - 1)))
            if page.page > 1 else None,
            next_link=_query_link(filters.query(page=str(page.page + 1)))
            if page.page < page.pages else None,
        )

    # --- a case --------------------------------------------------------------------------------

    async def _case(self, request: Request, principal: Principal, form: Form) -> Response:
        reference = request.path_params["reference"]
        now = self.clock()
        async with self.storage.session() as session:
            found = await case_for(session, reference, principal)
            if found is None:
                raise _Refused(404, "There is no case with that reference that you can open.")
            if is_sensitive(found):
                # a view of special category data is recorded before anything is shown.
                async with self.storage.unit_of_work() as uow:
                    await uow.audit.record(
                        principal.actor, "case.viewed", case_id=found.id, at=now,
                        detail={"role": principal.role},
                    )
            team = await officers(session)
            identity = await reporter_identity(session, found)
            evidence = list((await session.execute(
                select(Evidence).where(Evidence.case_id == found.id).order_by(Evidence.id)
            )).scalars())
            reach = await JobContext(UnitOfWork(session), self.settings.casework, now).reporter(
                found
            )
            events = await audit_trail(session, found.id)
            staff_only = await staff_messages(session, found.id,
                                              self.settings.casework.team.caretaking_email)
            graffiti = (
                await session.execute(
                    select(ScheduledAction.payload)
                    .where(ScheduledAction.case_id == found.id,
                           ScheduledAction.kind == "graffiti_job")
                    .limit(1)
                )
            ).scalar_one_or_none()
        detail = await case_detail(self.storage, found.reference)
        if detail is None:  # deleted in between
            raise _Refused(404, "There is no case with that reference that you can open.")
        calendar = self.settings.calendar
        names = {o.id: o.name for o in team}
        cadence = update_every(found, self.settings.policy)
        policy = self.settings.policy
        due_update = None
        if found.first_contact_at is not None and found.status != "closed":
            due_update = (found.last_update_at or found.first_contact_at) + cadence
        transcript = [
            {**line, "text": readable(line["text"]) if line["from"] == "reporter" else line["text"],
             "when": _when_iso(calendar, line["at"])}
            for line in detail["transcript"]
            if not (line["from"] == "bot" and line["text"] in staff_only)
        ]
        history = [e for e in events if e.action in HISTORY_ACTIONS]
        unreachable = (
            self.settings.casework.texts.text(f"unreachable.{reach.unreachable}")
            if reach.unreachable and self.settings.casework.texts.has(
                f"unreachable.{reach.unreachable}")
            else reach.unreachable
        )
        return await self._render(
            "case.html", principal, request=request, case=found, detail=detail,
            category=category_label(found.category),
            categories=[category_label(c) for c in found.categories or []],
            officer_name=names.get(found.officer_id or "", found.officer_id),
            area_name=self.settings.area_names.get(found.area_code or "", found.area_code),
            identity=identity, route=reach.routes[0] if reach.routes else None,
            unreachable=unreachable, sensitive=is_sensitive(found),
            received=when(calendar, found.received_at),
            deadline=when(calendar, found.deadline_at),
            deadline_countdown=countdown(found.deadline_at, now)
            if found.first_contact_at is None else None,
            breached=found.first_contact_at is None and found.deadline_at is not None
            and found.deadline_at < now and found.status != "closed",
            contacted=when(calendar, found.first_contact_at),
            contacted_late=found.first_contact_at is not None and found.deadline_at is not None
            and found.first_contact_at > found.deadline_at,
            acknowledged=when(calendar, found.acknowledged_at),
            acknowledged_by=names.get(found.acknowledged_by or "", found.acknowledged_by),
            last_update=when(calendar, found.last_update_at),
            due_update=when(calendar, due_update),
            due_update_at=due_update,
            due_update_countdown=countdown(due_update, now) if due_update else None,
            cadence_days=cadence.days,
            cadence_choices=[d.as_timedelta().days for d in policy.update_cadence.choices],
            plan_agreed=when(calendar, found.action_plan_agreed_at),
            plan_agreed_by=names.get(found.action_plan_agreed_by or "",
                                     found.action_plan_agreed_by),
            closed=when(calendar, found.closed_at),
            closure_reasons=[(r, r.replace("_", " ").capitalize())
                             for r in policy.closure.reasons],
            contact_methods=CONTACT_METHODS,
            transcript=transcript,
            incidents=[{**i, "when": _when_iso(calendar, i["at"])} for i in detail["incidents"]],
            actions=[{**a, "when": _when_iso(calendar, a["due_at"])}
                     for a in detail["scheduled_actions"]],
            history=[(e, when(calendar, e.at),
                      names.get(e.actor.removeprefix("officer:"), e.actor),
                      _history_words(e.action, e.detail, names)) for e in history],
            audit=[(e, when(calendar, e.at)) for e in events] if principal.is_admin else None,
            assignable=[o for o in team if o.active and o.role in ("officer", "manager", "admin")],
            evidence=[{"item": e, "kept": _kept(e)} for e in evidence],
            graffiti=graffiti,
            graffiti_removed=when(calendar, found.graffiti_removed_at),
            message_id=str(uuid.uuid4()),
            max_message=MAX_MESSAGE_CHARS,
            open=found.status != "closed",
        )

    async def _evidence(self, request: Request, principal: Principal, form: Form) -> Response:
        """One evidence file of a case this person may open, as a download (never rendered)."""
        reference = request.path_params["reference"]
        missing = "There is no such evidence on a case you can open."
        try:
            evidence_id = int(request.path_params["evidence_id"])
        except ValueError:
            raise _Refused(404, missing) from None
        async with self.storage.session() as session:
            found = await case_for(session, reference, principal)
            item = await session.get(Evidence, evidence_id) if found is not None else None
        if found is None or item is None or item.case_id != found.id:
            raise _Refused(404, missing)
        folder = self.settings.evidence_dir
        try:
            data = (
                await asyncio.to_thread(read_evidence, folder, item.sha256)
                if folder is not None else None
            )
        except Tampered:
            log.error("console: evidence %d of %s does not match its SHA-256; not served",
                      item.id, found.reference)
            raise _Refused(409, "This file has changed since it was received, so it is not "
                                "served. Tell your administrator.") from None
        if data is None:
            raise _Refused(404, "This file was not kept (too large, or never fetched).")
        if is_sensitive(found):
            # a hate or domestic-abuse case's evidence is special category data.
            async with self.storage.unit_of_work() as uow:
                await uow.audit.record(
                    principal.actor, "evidence.downloaded", case_id=found.id, at=self.clock(),
                    detail={"evidence": item.id, "sha256": item.sha256, "role": principal.role},
                )
        kind = served_type(item.content_type)
        name = download_name(item.filename, f"{found.reference}-evidence-{item.id}", kind)
        response = _secured(Response(data, media_type=kind))
        response.headers.update({**FILE_HEADERS, "Content-Disposition": content_disposition(name)})
        return response

    async def _command(
        self, principal: Principal, reference: str, verb: str, rest: str = "",
        after: Callable[[JobContext, Case], Awaitable[None]] | None = None,
    ) -> str:
        """Carry out an officer command on a case in one transaction, as a reply to an alert
        would; ``after`` adds to the same transaction."""
        now = self.clock()
        async with self.storage.unit_of_work() as uow:
            found = await case_for(uow.session, reference, principal)
            officer = await uow.officers.get(principal.officer_id)
            if found is None or officer is None:
                raise _Refused(404, "There is no case with that reference that you can open.")
            ctx = JobContext(uow, self.settings.casework, now, worker=f"console:{officer.id}")
            answer = await act(ctx, officer, OfficerCommand(verb, found.reference, rest))
            if after is not None:
                await after(ctx, found)
            await ctx.flush()
        return answer

    async def _acknowledge(
        self, request: Request, principal: Principal, form: dict[str, str]
    ) -> Response:
        reference = request.path_params["reference"]
        answer = await self._command(principal, reference, "ack")
        return self._back_to_case(reference, answer)

    async def _contact(self, request: Request, principal: Principal, form: Form) -> Response:
        reference = request.path_params["reference"]
        method = form.get("method", "")
        if method not in CONTACT_METHODS:
            raise _Refused(400, "Choose how you made contact.")
        note = form.get("note", "").strip()[:MAX_NOTE_CHARS]
        async with self.storage.session() as session:
            found = await case_for(session, reference, principal)
        if found is None:
            raise _Refused(404, "There is no case with that reference that you can open.")
        verb = "contacted" if found.first_contact_at is None else "updated"

        async def record(ctx: JobContext, case_row: Case) -> None:
            if case_row.status == "closed":
                return
            ctx.audit(
                "contact.recorded", case_id=case_row.id, actor=principal.actor,
                detail={"method": method, "note": note, "first": verb == "contacted"},
            )

        answer = await self._command(principal, reference, verb, after=record)
        return self._back_to_case(reference, answer)

    async def _plan(self, request: Request, principal: Principal, form: Form) -> Response:
        reference = request.path_params["reference"]
        plan = form.get("plan", "").strip()
        if not plan:
            raise _Refused(400, "Write the actions agreed with the reporter.")
        if len(plan) > MAX_PLAN_CHARS:
            raise _Refused(400, f"The action plan can be up to {MAX_PLAN_CHARS:,} characters.")
        choices = [d.as_timedelta().days for d in self.settings.policy.update_cadence.choices]
        try:
            days = int(form.get("update_every", ""))
        except ValueError:
            days = 0
        if days not in choices:
            raise _Refused(400, "Choose how often the reporter will be updated.")
        if form.get("agreed") != "yes":
            raise _Refused(400, "Tick the box to confirm the plan was agreed with the reporter.")
        now = self.clock()
        async with self.storage.unit_of_work() as uow:
            found = await case_for(uow.session, reference, principal)
            if found is None:
                raise _Refused(404, "There is no case with that reference that you can open.")
            if found.status == "closed":
                raise _Refused(409, f"{found.reference} is closed.")
            found.action_plan = plan
            found.action_plan_agreed_at, found.action_plan_agreed_by = now, principal.officer_id
            found.update_every_days = days
            found.updated_at = now
            effective = update_every(found, self.settings.policy)
            next_due = (found.last_update_at or found.first_contact_at or now) + effective
            await uow.session.execute(
                update(ScheduledAction)
                .where(
                    ScheduledAction.case_id == found.id,
                    ScheduledAction.kind == "update_reminder",
                    ScheduledAction.status == "pending",
                    ScheduledAction.due_at > next_due,
                )
                .values(due_at=max(next_due, now))
                .execution_options(synchronize_session=False)
            )
            await uow.audit.record(
                principal.actor, "action_plan.agreed", case_id=found.id, at=now,
                detail={"update_every_days": days, "effective_days": effective.days},
            )
        capped = "" if effective.days == days else (
            f" The policy needs an update at least every {effective.days} days for this case, "
            "so reminders follow that."
        )
        return self._back_to_case(
            reference, f"Action plan for {found.reference} saved: updates every {days} days."
            + capped,
        )

    async def _message(self, request: Request, principal: Principal, form: Form) -> Response:
        reference = request.path_params["reference"]
        body = form.get("body", "").strip()
        if not body:
            raise _Refused(400, "Write the message first.")
        if len(body) > MAX_MESSAGE_CHARS:
            raise _Refused(400, f"A message can be up to {MAX_MESSAGE_CHARS:,} characters.")
        try:
            message_id = str(uuid.UUID(form.get("message_id", "")))
        except ValueError:
            message_id = str(uuid.uuid4())
        now = self.clock()
        async with self.storage.unit_of_work() as uow:
            found = await case_for(uow.session, reference, principal)
            officer = await uow.officers.get(principal.officer_id)
            if found is None or officer is None:
                raise _Refused(404, "There is no case with that reference that you can open.")
            if found.status == "closed":
                raise _Refused(409, f"{found.reference} is closed: no more messages are sent.")
            ctx = JobContext(uow, self.settings.casework, now, worker=f"console:{officer.id}")
            reach = await ctx.reporter(found)
            if not reach.routes:
                why = reach.unreachable or "no_channel"
                texts = self.settings.casework.texts
                words = texts.text(f"unreachable.{why}") if texts.has(f"unreachable.{why}") else why
                raise _Refused(409, f"Not sent: we cannot write to this reporter ({words}).")
            route = reach.routes[0]
            ctx.tell_reporter(
                route,
                f"console:{found.id}:{message_id}",
                [f"{self.settings.landlord} ({officer.name}, {found.reference}): {body}"],
                case=found,
            )
            found.last_update_at, found.updated_at = now, now
            ctx.audit(
                "reporter.messaged", case_id=found.id, actor=principal.actor,
                detail={"channel": route.channel, "characters": len(body),
                        "message": message_id},
            )
            await ctx.flush()
        if self.wake is not None:
            self.wake()
        return self._back_to_case(
            reference, f"Message to the reporter queued ({_channel_words(route.channel)}).",
        )

    async def _assign(self, request: Request, principal: Principal, form: Form) -> Response:
        reference = request.path_params["reference"]
        chosen = form.get("officer", "")
        now = self.clock()
        async with self.storage.unit_of_work() as uow:
            found = await case_for(uow.session, reference, principal)
            if found is None:
                raise _Refused(404, "There is no case with that reference that you can open.")
            officer = await uow.session.get(Officer, chosen) if chosen else None
            if officer is None or not officer.active or officer.role not in (
                "officer", "manager", "admin"
            ):
                raise _Refused(400, "Choose an active officer to give the case to.")
            if found.status == "closed":
                raise _Refused(409, f"{found.reference} is closed.")
            before = found.officer_id
            if before == officer.id:
                raise _Refused(409, f"{found.reference} is already with {officer.name}.")
            found.officer_id, found.updated_at = officer.id, now
            await uow.audit.record(
                principal.actor, "case.assigned", case_id=found.id, at=now,
                detail={"from": before, "to": officer.id},
            )
            told = None
            if officer.id != principal.officer_id:
                # The same path as every officer alert: a message on their alert channel,
                # queued in this transaction, with the one-click links.
                ctx = JobContext(uow, self.settings.casework, now,
                                 worker=f"console:{principal.officer_id}")
                previous = await uow.session.get(Officer, before) if before else None
                words = self._assignment_words(
                    found, principal, previous.name if previous else before
                )
                contacted = found.first_contact_at is not None
                if ctx.tell_officer(
                    officer,
                    f"console:{found.id}:assigned:{uuid.uuid4()}",
                    ctx.texts.text("officer.assigned.contacted" if contacted
                                   else "officer.assigned", **words),
                    case=found,
                    subject=ctx.texts.text("officer.assigned.subject", **words),
                    links=() if contacted else ("ack", "contacted"),
                ):
                    told = officer_routes(officer)[0][0]
                    ctx.audit("assignment.alert_sent", case_id=found.id, actor=principal.actor,
                              detail={"officer": officer.id, "channel": told})
                await ctx.flush()
        if told is not None and self.wake is not None:
            self.wake()
        notice = f"{found.reference} is now with {officer.name}."
        if told is not None:
            notice += f" They have been sent an alert {_channel_words(told)}."
        elif officer.id != principal.officer_id:
            notice += " They have no address for alerts: tell them yourself."
        return self._back_to_case(reference, notice)

    def _assignment_words(self, found: Case, principal: Principal, before: str | None
                          ) -> dict[str, str]:
        calendar = self.settings.calendar
        return {
            "reference": found.reference,
            "priority": found.priority,
            "category": category_words(found.category),
            "area": f", {found.area_code}" if found.area_code else "",
            "received": when(calendar, found.received_at),
            "deadline": when(calendar, found.deadline_at),
            "contacted": when(calendar, found.first_contact_at),
            "by": principal.name,
            "from": f" (from {before})" if before else "",
        }

    async def _close(self, request: Request, principal: Principal, form: Form) -> Response:
        reference = request.path_params["reference"]
        reason = form.get("reason", "")
        if reason not in self.settings.policy.closure.reasons:
            raise _Refused(400, "Choose a reason for closing the case.")
        if form.get("confirm") != "yes":
            raise _Refused(400, "Tick the box to confirm the case should be closed.")
        note = form.get("note", "").strip()[:MAX_NOTE_CHARS]
        if reason == "no_new_reports":
            async with self.storage.session() as session:
                found = await case_for(session, reference, principal)
                asked = found is not None and await session.scalar(
                    select(ScheduledAction.id).where(
                        ScheduledAction.case_id == found.id,
                        ScheduledAction.kind == "closure_check",
                        ScheduledAction.status == "done",
                    ).limit(1)
                )
            if not asked:
                raise _Refused(
                    409,
                    "A case is never closed on silence alone (R-13): the closure check must "
                    "first have asked the reporter whether it is still going on.",
                )

        async def record(ctx: JobContext, case_row: Case) -> None:
            if note and case_row.status == "closed":
                ctx.audit("closure.note", case_id=case_row.id, actor=principal.actor,
                          detail={"reason": reason, "note": note})

        answer = await self._command(principal, reference, "close", reason, after=record)
        if self.wake is not None:
            self.wake()
        return self._back_to_case(reference, answer)

    # --- graffiti jobs ---------------------------------------------------------------------------

    async def _jobs(self, request: Request, principal: Principal, form: Form) -> Response:
        now = self.clock()
        async with self.storage.session() as session:
            me = await session.get(Officer, principal.officer_id)
            jobs = await graffiti_jobs(session, principal, list(me.areas if me else []), now)
        calendar = self.settings.calendar
        rows = [
            {
                "job": job,
                "area": self.settings.area_names.get(job.area_code or "", job.area_code or "-"),
                "target": when(calendar, job.target),
                "countdown": countdown(job.target, now) if job.removed_at is None else None,
                "late": job.removed_at is None and job.target is not None and job.target < now,
                "removed": when(calendar, job.removed_at),
            }
            for job in jobs
        ]
        return await self._render("jobs.html", principal, request=request, rows=rows)

    async def _job_done(self, request: Request, principal: Principal, form: Form) -> Response:
        reference = request.path_params["reference"].strip().upper()
        now = self.clock()
        async with self.storage.unit_of_work() as uow:
            officer = await uow.officers.get(principal.officer_id)
            job = await uow.session.scalar(
                select(ScheduledAction.id)
                .join(Case, Case.id == ScheduledAction.case_id)
                .where(Case.reference == reference, ScheduledAction.kind == "graffiti_job")
                .limit(1)
            )
            if officer is None or job is None:
                raise _Refused(404, "There is no graffiti job with that reference.")
            ctx = JobContext(uow, self.settings.casework, now, worker=f"console:{officer.id}")
            answer = await act(ctx, officer, OfficerCommand("done", reference))
            await ctx.flush()
        if self.wake is not None:
            self.wake()
        return self._with_notice(_redirect(f"{PREFIX}/jobs"), answer)

    # --- reports -----------------------------------------------------------------------------

    def _month(self, request: Request) -> datetime:
        value = request.query_params.get("month")
        if value:
            try:
                first = parse_month(value)
            except ValueError as exc:
                raise _Refused(400, str(exc)) from None
            return month_start(first, self.settings.policy.zone)
        local = self.settings.calendar.local(self.clock())
        return month_start(local.date().replace(day=1), self.settings.policy.zone, -1)

    async def _report(self, request: Request) -> MonthlyReport:
        month = self._month(request)
        return await monthly_report(
            self.storage, month.date(), policy=self.settings.policy, now=self.clock(),
            area_names=self.settings.area_names,
        )

    async def _reports(self, request: Request, principal: Principal, form: Form) -> Response:
        report = await self._report(request)
        return await self._render(
            "reports.html", principal, request=request, report=report, charts=_charts(report),
            percent=percent, months=self._month_choices(), chosen=report.month,
            as_of=when(self.settings.calendar, report.as_of),
        )

    def _month_choices(self) -> list[str]:
        local = self.settings.calendar.local(self.clock()).date().replace(day=1)
        zone = self.settings.policy.zone
        return [f"{month_start(local, zone, -shift):%Y-%m}" for shift in range(0, 25)]

    async def _report_csv(self, request: Request, principal: Principal, form: Form) -> Response:
        report = await self._report(request)
        await self._audit_export(principal, report.month, "csv")
        return _secured(
            Response(report.as_csv(), media_type="text/csv; charset=utf-8"),
            {**NO_STORE,
             "Content-Disposition": f'attachment; filename="asb-report-{report.month}.csv"'},
        )

    async def _report_json(self, request: Request, principal: Principal, form: Form) -> Response:
        report = await self._report(request)
        await self._audit_export(principal, report.month, "json")
        return _secured(
            Response(json.dumps(report.as_dict(), indent=2), media_type="application/json"),
            {**NO_STORE,
             "Content-Disposition": f'attachment; filename="asb-report-{report.month}.json"'},
        )

    async def _audit_export(self, principal: Principal, month: str, kind: str) -> None:
        async with self.storage.unit_of_work() as uow:
            await uow.audit.record(principal.actor, "report.exported", at=self.clock(),
                                   detail={"month": month, "format": kind})

    # --- the audit trail ---------------------------------------------------------------------

    async def _audit(self, request: Request, principal: Principal, form: Form) -> Response:
        params = request.query_params
        reference = (params.get("reference") or "").strip()[:32] or None
        actor = (params.get("actor") or "").strip()[:100] or None
        try:
            before = int(params.get("before") or 0) or None
        except ValueError:
            before = None
        async with self.storage.session() as session:
            page = await audit_events(session, reference=reference, actor=actor,
                                      before_id=before)
        calendar = self.settings.calendar
        rows = [(event, ref, when(calendar, event.at)) for event, ref in page.events]
        more = None
        if page.more and page.events:
            more = _query_link({k: v for k, v in (("reference", reference), ("actor", actor),
                                                  ("before", str(page.events[-1][0].id))) if v})
        return await self._render(
            "audit.html", principal, request=request, rows=rows, reference=reference or "",
            actor=actor or "", more=more,
        )

    # --- what the sandbox stand-ins sent ----------------------------------------------------

    async def _sandbox_sent(self, principal: Principal, kind: str) -> list[SandboxMessage]:
        sent = list(self.sandbox()) if self.sandbox is not None else []
        async with self.storage.unit_of_work() as uow:
            await uow.audit.record(principal.actor, "sandbox.viewed", at=self.clock(),
                                   detail={"format": kind, "messages": len(sent)})
        return sent

    async def _sandbox(self, request: Request, principal: Principal, form: Form) -> Response:
        sent = await self._sandbox_sent(principal, "html")
        calendar = self.settings.calendar
        rows = [{"message": m, "when": when(calendar, m.at)} for m in reversed(sent)]
        return await self._render("sandbox.html", principal, request=request, rows=rows,
                                  active=self.sandbox is not None)

    async def _sandbox_json(self, request: Request, principal: Principal, form: Form) -> Response:
        sent = await self._sandbox_sent(principal, "json")
        return _secured(
            Response(json.dumps({"sandbox": self.sandbox is not None,
                                 "messages": [m.as_dict() for m in sent]}, indent=2),
                     media_type="application/json"),
            {**NO_STORE, "Content-Disposition": 'attachment; filename="sandbox-sent.json"'},
        )

    # --- rendering -----------------------------------------------------------------------------

    async def _static(self, name: str) -> Response:
        assets = await self._load_assets()
        if name not in assets.static:
            return _secured(Response(status_code=404))
        return _secured(
            Response(assets.static[name], media_type=STATIC_FILES[name]),
            {"Cache-Control": "public, max-age=31536000, immutable"},
        )

    async def _render(
        self, name: str, principal: Principal | None, *, status: int = 200,
        request: Request | None = None, **context: Any,
    ) -> Response:
        assets = await self._load_assets()
        notice = context.pop("notice", None)
        if notice is None and request is not None:
            notice = self._read_notice(request)
        html = assets.templates[name].render(
            principal=principal,
            csrf_token=context.pop("csrf_token", principal.csrf_token if principal else ""),
            service_name=self.settings.service_name,
            landlord=self.settings.landlord,
            versions=assets.versions,
            prefix=PREFIX,
            notice=notice,
            here=_SECTIONS.get(name, ""),
            sandbox_on=self.sandbox is not None,
            **context,
        )
        response = _secured(HTMLResponse(html, status_code=status), NO_STORE)
        if notice and request is not None:
            _clear_notice(response)
        return response

    async def _notice_page(
        self, principal: Principal | None, status: int, title: str, message: str,
        link: tuple[str, str] | None = None,
    ) -> Response:
        return await self._render(
            "notice.html", principal, status=status, title=title, message=message,
            link=link or ((f"{PREFIX}/queue", "Back to the queue") if principal else None),
        )

    def _back_to_case(self, reference: str, notice: str) -> Response:
        target = f"{PREFIX}/cases/{reference.strip().upper()}"
        return self._with_notice(_redirect(target + "#notice"), notice)

    def _with_notice(self, response: Response, notice: str) -> Response:
        response.set_cookie(
            NOTICE_COOKIE, self._notices.dumps(notice[:1000]), max_age=120,
            path=auth.COOKIE_PATH, secure=self.cookie_secure, httponly=True, samesite="strict",
        )
        return response

    def _read_notice(self, request: Request) -> str | None:
        cookie = request.cookies.get(NOTICE_COOKIE)
        if not cookie:
            return None
        try:
            value = self._notices.loads(cookie, max_age=120)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    async def _load_assets(self) -> _Assets:
        if self._assets is None:
            async with self._assets_lock:
                if self._assets is None:
                    self._assets = await asyncio.to_thread(_read_assets)
        return self._assets


# --- helpers --------------------------------------------------------------------------------------


async def _read_form(request: Request) -> dict[str, str]:
    """A URL-encoded form, read no further than :data:`MAX_FORM_BYTES`."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise _Refused(415, "The console only takes its own forms.")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise _Refused(413, "That is too much text to send at once.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise _Refused(413, "That is too much text to send at once.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise _Refused(400, "The form could not be read.") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value.replace("\r\n", "\n"))
    return form


def _secured(response: Response, extra: Mapping[str, str] | None = None) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if extra:
        response.headers.update(extra)
    return response


def _redirect(target: str) -> Response:
    return _secured(RedirectResponse(target, status_code=303), NO_STORE)


def _clear_notice(response: Response) -> None:
    response.delete_cookie(NOTICE_COOKIE, path=auth.COOKIE_PATH)


def _safe_next(value: str | None) -> str | None:
    """A place to go after signing in: only a console path on this site."""
    if not value or not value.startswith(PREFIX + "/") or value.startswith("//"):
        return None
    if any(c in value for c in ("\\", "\r", "\n")) or value.startswith(f"{PREFIX}/login"):
        return None
    return value[:500]


def _query_link(params: Mapping[str, str]) -> str:
    return "?" + urlencode(params)


def _minutes_up(length: timedelta) -> str:
    """A wait in whole minutes, rounded up (at least one)."""
    return _minutes(timedelta(minutes=max(1, -(-int(length.total_seconds()) // 60))))


def _minutes(length: timedelta) -> str:
    minutes = int(length.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _history_words(action: str, detail: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """What a history line adds to its action's name, for the events that need it."""
    if action == "case.assigned":
        to = names.get(str(detail.get("to")), str(detail.get("to")))
        before = detail.get("from")
        return f"to {to}" + (f" (was {names.get(str(before), str(before))})" if before else "")
    if action == "assignment.alert_sent":
        officer = names.get(str(detail.get("officer")), str(detail.get("officer")))
        return f"{officer} alerted {_channel_words(str(detail.get('channel')))}"
    return ""


def _kept(item: Evidence) -> bool:
    """Whether the intake service kept the file itself (not only a link to fetch it)."""
    return bool(item.stored_at) and item.stored_at != "not fetched" and "://" not in item.stored_at


def _when_iso(calendar: Any, value: str | None) -> str:
    if not value:
        return "-"
    try:
        return when(calendar, datetime.fromisoformat(value))
    except ValueError:
        return value


_CHANNEL_WORDS = {
    "sms": "by text message",
    "whatsapp": "on WhatsApp",
    "email": "by email",
    "telegram": "on Telegram",
    "web": "in the web chat",
}


def _channel_words(channel: str) -> str:
    return _CHANNEL_WORDS.get(channel, f"on {channel}")


def _charts(report: MonthlyReport) -> dict[str, Chart]:
    trend = report.trend
    responses = [r for r in report.first_response if r.priority != "all"]
    return {
        "trend": column_chart(
            [point.month[2:] for point in trend],
            [
                ("ASB cases per 1,000 homes", [p.asb_per_1000_homes for p in trend]),
                ("Hate cases per 1,000 homes", [p.hate_per_1000_homes for p in trend]),
            ],
        ),
        "on_time": bar_chart(
            [f"{r.priority} ({r.due} due)" for r in responses],
            [r.share_on_time or 0.0 for r in responses],
            fmt=percent, top=1.0, name="First contact within target",
        ),
        "ages": column_chart(
            [band for band, _ in report.open_by_age],
            [("Open cases", [float(n) for _, n in report.open_by_age])],
            fmt=lambda v: f"{v:,.0f}",
        ),
        "satisfaction": bar_chart(
            [_SCORES[score] for score in report.satisfaction.by_score],
            [float(n) for n in report.satisfaction.by_score.values()],
            fmt=lambda v: f"{v:,.0f}", name="Survey answers",
        ),
        "areas": bar_chart(
            [spot.name for spot in report.areas[:10]],
            [float(spot.cases) for spot in report.areas[:10]],
            fmt=lambda v: f"{v:,.0f}", name="ASB cases",
        ),
    }


_SECTIONS = {
    "queue.html": "queue",
    "case.html": "queue",
    "jobs.html": "jobs",
    "reports.html": "reports",
    "audit.html": "audit",
    "sandbox.html": "sandbox",
}

_SCORES = {
    1: "Very satisfied",
    2: "Fairly satisfied",
    3: "Neither",
    4: "Fairly dissatisfied",
    5: "Very dissatisfied",
}


def _read_assets() -> _Assets:
    """Templates and static files, read once (in a thread: it is file I/O)."""
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    static = {name: (HERE / "static" / name).read_bytes() for name in STATIC_FILES}
    return _Assets(
        templates={name: environment.get_template(name) for name in TEMPLATES},
        static=static,
        versions={name: hashlib.sha256(data).hexdigest()[:12] for name, data in static.items()},
    )
