"""``intake serve``: one asyncio process hosting HTTP, SMTP, Telegram, the scheduler and the
outbox dispatcher (DESIGN.md). Stops gracefully on SIGTERM or Ctrl-C: it stops accepting,
finishes what is in flight, then closes the database."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import Callable, Generator, Sequence
from datetime import UTC, datetime

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry, Counter
from starlette.types import ASGIApp

from casework.action_links import action_link_router
from casework.console.config import console_settings
from casework.console.routes import console_router
from casework.console.sandbox import SandboxMessage, SandboxSent
from casework.context import CaseworkContext, context_from_settings
from casework.officer_replies import OfficerAddresses, handle_officer_reply
from casework.scheduler import CaseworkScheduler
from casework.survey import record_survey_answer
from channels.base import ChannelAdapter, DeliveryHandler, InboundHandler
from channels.email_sandbox import SandboxMailbox
from intake.app import create_app
from intake.bootstrap import build_case_rules, build_storage, migrate, sync_team
from intake.messages import Handled, InboundMessage
from intake.outbox import OutboxDispatcher
from intake.service import IntakeService, OfficerDesk, SurveyDesk
from intake.settings import Settings
from storage.models import ChannelIdentity
from storage.uow import UnitOfWork
from triage import classify

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the runner owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def build_adapters(
    settings: Settings,
    handle: InboundHandler,
    on_delivery: DeliveryHandler,
    clock: Callable[[], datetime],
    web_secret: str = "",
    local_base_url: str = "",
    sandbox_relay_port: int | None = None,
) -> list[ChannelAdapter]:
    """The enabled channel adapters, configured from settings (sandbox without accounts).

    In sandbox mode the real SDKs talk to stand-in APIs served by this process, reached at
    ``local_base_url`` (loopback) whatever the public address is; email replies go to the
    sandbox mailbox listening on ``sandbox_relay_port``.
    """
    channels = settings.channels
    public = settings.service.public_base_url.rstrip("/")
    local = local_base_url.rstrip("/") or public
    adapters: list[ChannelAdapter] = []
    if channels.sms.enabled:
        from channels.twilio import TwilioChannel

        sms = channels.sms
        adapters.append(
            TwilioChannel(
                account_sid=sms.account_sid,
                auth_token=sms.auth_token.get_secret_value() if sms.auth_token else None,
                from_number=sms.from_number,
                whatsapp_from=sms.whatsapp_from,
                public_base_url=public,
                api_base_url=sms.api_base_url
                or (local + "/sandbox/twilio" if sms.sandbox else None),
                trust_forwarded_headers=sms.trust_forwarded_headers,
                media_max_bytes=sms.media_max_bytes,
                media_types=sms.media_types,
                handle=handle,
                on_delivery=on_delivery,
            )
        )
    if channels.email.enabled:
        from channels.email import EmailChannel

        mail = channels.email
        sandbox = mail.relay_host is None
        adapters.append(
            EmailChannel(
                listen_host=mail.listen_host,
                listen_port=mail.listen_port,
                addresses=mail.addresses,
                from_address=mail.from_address,
                max_message_bytes=mail.max_message_bytes,
                relay_host=mail.relay_host or "127.0.0.1",
                relay_port=(sandbox_relay_port or mail.relay_port) if sandbox else mail.relay_port,
                relay_starttls=mail.relay_starttls and not sandbox,
                relay_username=mail.relay_username,
                relay_password=mail.relay_password.get_secret_value()
                if mail.relay_password
                else None,
                replies_per_sender_per_hour=mail.replies_per_sender_per_hour,
                handle=handle,
                clock=clock,
            )
        )
    if channels.telegram.enabled:
        from channels.telegram import TelegramChannel

        bot = channels.telegram
        adapters.append(
            TelegramChannel(
                token=bot.bot_token.get_secret_value() if bot.bot_token else None,
                mode=bot.mode,
                webhook_secret=bot.webhook_secret.get_secret_value()
                if bot.webhook_secret
                else None,
                api_base_url=bot.api_base_url
                or (local + "/sandbox/telegram" if bot.sandbox else None),
                public_base_url=public,
                handle=handle,
            )
        )
    if channels.web.enabled:
        from channels.webchat import WebChatChannel

        adapters.append(
            WebChatChannel(
                secret_key=web_secret,
                session_max_age_seconds=int(
                    channels.web.session_max_age.as_timedelta().total_seconds()
                ),
                cookie_secure=public.startswith("https://"),
                landlord=settings.service.landlord,
                handle=handle,
                clock=clock,
            )
        )
    return adapters


def sandbox_reader(adapters: Sequence[ChannelAdapter]) -> SandboxSent | None:
    """What the Twilio and Telegram stand-ins accepted, for the console's sandbox page; None
    when no channel is in sandbox mode."""
    from channels.telegram import TelegramChannel
    from channels.twilio import TwilioChannel

    twilio = [a.sandbox for a in adapters if isinstance(a, TwilioChannel) and a.sandbox]
    telegram = [a.sandbox for a in adapters if isinstance(a, TelegramChannel) and a.sandbox]
    if not twilio and not telegram:
        return None

    def read() -> list[SandboxMessage]:
        found = [
            SandboxMessage("whatsapp" if m.to.startswith("whatsapp:") else "sms", m.sid, m.to,
                           m.body, m.date_created)
            for box in twilio
            for m in box.sent
        ]
        for box in telegram:
            for sent in box.sent:
                markup = sent.get("reply_markup") or {}
                buttons = tuple(str(button.get("text", ""))
                                for row in markup.get("inline_keyboard", []) for button in row)
                found.append(SandboxMessage(
                    "telegram", str(sent["message_id"]), str(sent["chat_id"]), str(sent["text"]),
                    sent["accepted_at"], buttons,
                ))
        return sorted(found, key=lambda m: m.at or datetime.min.replace(tzinfo=UTC))

    return read


def http_config(app: ASGIApp, settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    """uvicorn as ``intake serve`` runs it. X-Forwarded-For (and -Proto) are believed only
    from ``http.trusted_proxies``: otherwise a request's client is the connection's address,
    whoever claims otherwise (the console counts failed sign-ins by it)."""
    trusted = list(settings.http.trusted_proxies)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.service.log_level.lower(),
        lifespan="off",
        access_log=False,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


def build_officer_desk(context: CaseworkContext) -> OfficerDesk:
    """Messages from officers' known addresses act on cases (ACK, CONTACTED, SNOOZE, DONE)."""

    officers = OfficerAddresses()

    async def officer_desk(uow: UnitOfWork, message: InboundMessage) -> str | None:
        officer = await officers.find(uow, message.channel.value, message.sender)
        if officer is None:
            return None
        return await handle_officer_reply(
            uow,
            officer,
            message.text,
            message.received_at,
            casework=context,
            reference=message.in_reply_to_reference,
        )

    return officer_desk


def build_survey_desk(context: CaseworkContext) -> SurveyDesk:
    """A reporter's reply to the satisfaction survey is stored as its answer (R-14)."""

    async def survey_desk(
        uow: UnitOfWork, identity: ChannelIdentity, message: InboundMessage
    ) -> str | None:
        return await record_survey_answer(
            uow, identity, message.choice or message.text, message.received_at, casework=context
        )

    return survey_desk


def web_secret(settings: Settings) -> str:
    """The configured secret key, or a per-installation one kept in the data folder (blocking:
    call it in a thread)."""
    if settings.service.secret_key is not None:
        return settings.service.secret_key.get_secret_value()
    path = settings.service.data_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(32).hex(), encoding="utf-8")
        path.chmod(0o600)
        log.warning("no INTAKE_SERVICE__SECRET_KEY set: generated one in %s", path)
    return path.read_text(encoding="utf-8").strip()


def _settle_heap() -> None:
    """Everything built during start-up (the web app, the channels' SDK clients, the
    scheduler) lives as long as the process: keep it out of the garbage collector's full
    scans. Measured on `intake serve`: ~90,000 such objects made each full scan, every few
    seconds under load, stall the event loop 40-100 ms, the p99 of every message in flight."""
    gc.collect()
    gc.freeze()


async def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    stop: asyncio.Event | None = None,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Run everything until SIGTERM/SIGINT (or ``stop`` is set), then shut down in order."""
    now = clock or (lambda: datetime.now(UTC))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    await migrate(settings)
    # Compile triage's vocabularies now, not on the first report (seconds, for someone
    # frightened at 3 am), then keep everything loaded so far out of the garbage collector's
    # scans: it is never freed, and each scan of it cost every message time.
    await asyncio.to_thread(classify, "warm up: loud music and someone shouting at my door")
    gc.freeze()
    storage = build_storage(settings, long_running=True)
    registry = CollectorRegistry()
    inbound = Counter(
        "intake_inbound_messages", "Messages received", ["channel", "first"], registry=registry
    )
    secret = await asyncio.to_thread(web_secret, settings)
    casework_context = context_from_settings(settings, secret=secret)

    officer_desk = build_officer_desk(casework_context)
    service = IntakeService(
        storage,
        settings,
        clock=now,
        officer_desk=officer_desk,
        survey_desk=build_survey_desk(casework_context),
        rules=build_case_rules(settings),
    )
    worker = f"{socket.gethostname()}:{os.getpid()}"
    dispatcher = OutboxDispatcher(storage, {}, now, worker)

    async def handle(message: InboundMessage, *, inline: bool = False) -> Handled:
        handled = await service.handle(message, inline=inline)
        inbound.labels(message.channel.value, str(handled.first_delivery).lower()).inc()
        # wake only who has work: each wake-up is a claiming transaction (measured: two per
        # message when woken every time, a third of a webhook's database work)
        if handled.deliveries_queued:
            dispatcher.wake.set()
        if handled.next_due is not None and (
            casework.next_wake is None
            or handled.next_due < casework.next_wake
            or handled.next_due <= now()  # due now: a claimer pass may be reading already
        ):
            casework.wake()  # an alert may be due now, or a follow-up sooner than awaited
        return handled

    bind_host = host or settings.http.host
    bind_port = port if port is not None else settings.http.port
    loopback = "127.0.0.1" if bind_host in ("0.0.0.0", "::", "127.0.0.1") else bind_host  # noqa: S104
    os.environ.setdefault("PTB_TIMEDELTA", "true")  # python-telegram-bot 22: no deprecation noise
    mailbox = None
    if settings.channels.email.enabled and settings.channels.email.relay_host is None:
        mailbox = SandboxMailbox(settings.service.data_dir / "sandbox-mail")
        await mailbox.start()
    adapters = build_adapters(
        settings,
        handle,
        dispatcher.on_delivery,
        now,
        secret,
        f"http://{loopback}:{bind_port}",
        mailbox.port if mailbox else None,
    )
    dispatcher.adapters = {c: a for a in adapters for c in a.channels}
    console = console_router(
        storage=storage,
        settings_view=console_settings(settings, secret=secret),
        clock=now,
        secret_key=secret,
        cookie_secure=settings.service.public_base_url.startswith("https://"),
        wake=dispatcher.wake.set,
        sandbox=sandbox_reader(adapters),
    )
    links = action_link_router(storage, casework_context, now)
    app = create_app(settings, storage, adapters, registry, routers=[console, links])
    server = _Server(http_config(app, settings, host=bind_host, port=bind_port))
    scheduler = AsyncIOScheduler(timezone=settings.policy.timezone)
    casework = CaseworkScheduler(
        storage, casework_context, worker=worker, clock=now, scheduler=scheduler
    )
    tasks: list[asyncio.Task[None]] = []
    started: Sequence[ChannelAdapter] = []
    server_task: asyncio.Task[None] | None = None
    try:
        await sync_team(storage, settings.team)
        server_task = asyncio.create_task(server.serve())
        while not server.started:
            if server_task.done():
                await server_task  # raises the bind error
                raise RuntimeError("HTTP server stopped during start-up")
            await asyncio.sleep(0.05)
        for adapter in adapters:
            await adapter.start()
            started = [*started, adapter]
        tasks.append(asyncio.create_task(dispatcher.run(stop)))
        scheduler.add_job(
            service.run_idle_checks,
            "interval",
            seconds=60,
            id="idle-checks",
            max_instances=1,
            coalesce=True,
        )
        scheduler.start()
        await casework.start()
        _settle_heap()
        log.info(
            "serving %s: %s",
            settings.service.name,
            ", ".join(c.value for a in adapters for c in a.channels) or "no channels",
        )
        await stop.wait()
        log.info("shutting down: no new messages; finishing what is in flight")
    finally:
        for adapter in reversed(list(started)):
            with contextlib.suppress(Exception):
                await adapter.stop()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await casework.stop()
        if scheduler.running:
            scheduler.shutdown(wait=False)
        stop.set()
        for task in tasks:
            await task
        with contextlib.suppress(Exception):
            await dispatcher.run_once()  # one last round for replies queued during shutdown
        if server_task is not None:
            try:
                await asyncio.wait_for(server_task, timeout=30)
            except TimeoutError:
                log.warning("HTTP connections still open after 30 s; closing them")
        if mailbox is not None:
            await mailbox.stop()
        await storage.close()
        log.info("stopped")
