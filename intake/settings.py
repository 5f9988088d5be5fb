"""Settings: ``config.yaml`` plus ``INTAKE_<SECTION>__<KEY>`` environment overrides.

The file holds the landlord's policy and the team; secrets come only from the environment.
Anything wrong stops start-up with one line naming the file (or variable), the key path, the
bad value and what is allowed, e.g.::

    config.yaml: policy.nation = 'wales': expected 'england_and_wales', 'scotland' or ...

Why not pydantic-settings' environment source: it silently ignores a misspelt variable
(``INTAKE_DATABSE__URL``), and a wrong key must stop start-up naming the key.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url

from triage.policy import Duration, Policy

ENV_PREFIX = "INTAKE_"
ENV_CONFIG_PATH = "INTAKE_CONFIG"
"""Names the config file; not a setting itself."""
DEFAULT_CONFIG = Path("config.yaml")


class ConfigError(Exception):
    """A configuration problem, described in one line a person can act on."""


class Section(BaseModel):
    """A settings section: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceSettings(Section):
    """The service as a whole."""

    name: str = Field(default="ASB and hate crime reporting", min_length=1)
    landlord: str = Field(default="Your landlord", min_length=1)
    data_dir: Path = Path("var")
    public_base_url: str = Field(
        default="http://127.0.0.1:8080", pattern=r"^https?://[^\s/]+(:\d+)?(/.*)?$"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    secret_key: SecretStr | None = None
    """Signs session cookies. Environment only (INTAKE_SERVICE__SECRET_KEY)."""
    metrics_token: SecretStr | None = None
    """The bearer token a Prometheus scraper must send to read /metrics. Environment only
    (INTAKE_SERVICE__METRICS_TOKEN); without it /metrics answers 404 to everyone."""

    @field_validator("metrics_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 24:
            raise ValueError("a metrics token needs at least 24 characters")
        return value


class HttpSettings(Section):
    """Where the HTTP server listens."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    trusted_proxies: tuple[str, ...] = ()
    """Addresses (or networks) of the reverse proxies in front of us: only from these is
    X-Forwarded-For believed as the client's address. Empty: the connection's own address."""


class DatabaseSettings(Section):
    """SQLite by default; a ``postgresql+asyncpg://`` URL for production."""

    url: str = "sqlite+aiosqlite:///var/intake.db"
    password: SecretStr | None = None
    """Added to a PostgreSQL URL. Environment only (INTAKE_DATABASE__PASSWORD)."""
    echo: bool = False
    pool_size: int = Field(default=10, ge=1, le=200)

    @model_validator(mode="after")
    def _supported_driver(self) -> Self:
        try:
            url = make_url(self.url)
        except Exception as exc:
            raise ValueError(f"not a database URL ({exc})") from None
        if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError(
                f"driver {url.drivername!r} is not supported; "
                "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB"
            )
        if url.password and url.drivername.startswith("postgresql"):
            raise ValueError(
                "the URL must not carry a password; set INTAKE_DATABASE__PASSWORD instead"
            )
        return self

    def sqlalchemy_url(self) -> str:
        """The URL with the password from the environment filled in."""
        url = make_url(self.url)
        if self.password is not None:
            url = url.set(password=self.password.get_secret_value())
        return url.render_as_string(hide_password=False)


class Area(Section):
    """A patch of homes and the officers who cover it."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=1)
    postcodes: tuple[str, ...] = ()
    """Postcode districts or sectors, e.g. 'DH1' or 'DH1 3'."""
    blocks: tuple[str, ...] = ()


class Officer(Section):
    """A member of staff who receives alerts or jobs."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=1)
    role: Literal["officer", "manager", "caretaker", "admin"] = "officer"
    areas: tuple[str, ...] = ()
    alert_by: Literal["email", "sms", "telegram"] = "email"
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$")
    telegram_chat_id: int | None = None
    max_open_cases: int = Field(default=40, ge=1)

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        contact = {"email": self.email, "sms": self.phone, "telegram": self.telegram_chat_id}
        if contact[self.alert_by] is None:
            needed = {"email": "email", "sms": "phone", "telegram": "telegram_chat_id"}
            raise ValueError(
                f"alert_by is {self.alert_by!r} but {needed[self.alert_by]} is not set"
            )
        return self


class TeamSettings(Section):
    """Who gets the work: areas, officers, the on-call officer and the manager."""

    areas: tuple[Area, ...] = ()
    officers: tuple[Officer, ...] = ()
    on_call: str | None = None
    manager: str | None = None
    caretaking_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    @model_validator(mode="after")
    def _references_exist(self) -> Self:
        ids = [o.id for o in self.officers]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"officer ids must be unique; repeated: {', '.join(duplicates)}")
        area_codes = {a.code for a in self.areas}
        for officer in self.officers:
            unknown = [a for a in officer.areas if a not in area_codes]
            if unknown:
                raise ValueError(
                    f"officer {officer.id!r} covers unknown area {unknown[0]!r}; "
                    f"known areas: {', '.join(sorted(area_codes)) or 'none'}"
                )
        by_id = {o.id: o for o in self.officers}
        if self.on_call is not None and self.on_call not in by_id:
            raise ValueError(f"on_call {self.on_call!r} is not one of the officers")
        if self.manager is not None:
            if self.manager not in by_id:
                raise ValueError(f"manager {self.manager!r} is not one of the officers")
            if by_id[self.manager].role not in ("manager", "admin"):
                raise ValueError(f"manager {self.manager!r} must have role manager")
        return self


class SmsSettings(Section):
    """Twilio SMS and WhatsApp. Without credentials the real SDK talks to a local stand-in."""

    enabled: bool = True
    account_sid: str = Field(default="", pattern=r"^(AC[0-9a-fA-F]{32})?$")
    auth_token: SecretStr | None = None
    """Environment only (INTAKE_CHANNELS__SMS__AUTH_TOKEN)."""
    from_number: str = Field(default="+447700900000", pattern=r"^\+[1-9]\d{6,14}$")
    whatsapp_from: str | None = Field(default=None, pattern=r"^whatsapp:\+[1-9]\d{6,14}$")
    api_base_url: str | None = None
    """Where the Twilio API is; None means Twilio itself, or the local stand-in in sandbox."""
    trust_forwarded_headers: bool = False
    """Believe X-Forwarded-Proto/Host from a TLS-terminating proxy (only behind one)."""
    media_max_bytes: int = Field(default=5_000_000, ge=1)
    media_types: tuple[str, ...] = (
        "image/jpeg", "image/png", "image/gif", "image/webp", "image/heic",
        "audio/mpeg", "audio/ogg", "audio/amr", "audio/mp4", "video/mp4", "video/3gpp",
        "application/pdf",
    )

    @property
    def sandbox(self) -> bool:
        """No account configured: use the stand-in Twilio API on loopback."""
        return not self.account_sid or self.auth_token is None


class EmailSettings(Section):
    """Our own SMTP server for reports, and the relay replies go out through."""

    enabled: bool = True
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=2525, ge=0, le=65535)
    addresses: tuple[str, ...] = ("report@asb.example.org",)
    """Only mail to these addresses is accepted (550 otherwise)."""
    from_address: str = Field(default="report@asb.example.org",
                              pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    max_message_bytes: int = Field(default=15_000_000, ge=1024)
    relay_host: str | None = None
    """Where replies are sent. None: sandbox, replies kept as .eml files under data_dir."""
    relay_port: int = Field(default=25, ge=1, le=65535)
    relay_starttls: bool = False
    relay_username: str | None = None
    relay_password: SecretStr | None = None
    """Environment only (INTAKE_CHANNELS__EMAIL__RELAY_PASSWORD)."""
    replies_per_sender_per_hour: int = Field(default=12, ge=1)


class TelegramSettings(Section):
    """A Telegram bot. Without a token the real library talks to a local stand-in Bot API."""

    enabled: bool = True
    bot_token: SecretStr | None = None
    """Environment only (INTAKE_CHANNELS__TELEGRAM__BOT_TOKEN)."""
    mode: Literal["webhook", "polling"] = "webhook"
    webhook_secret: SecretStr | None = None
    """Environment only; checked against X-Telegram-Bot-Api-Secret-Token."""
    api_base_url: str | None = None
    """None means Telegram itself, or the local stand-in in sandbox."""

    @property
    def sandbox(self) -> bool:
        """No token configured: use the stand-in Bot API on loopback."""
        return self.bot_token is None


class WebChatSettings(Section):
    """The web chat page at /chat."""

    enabled: bool = True
    session_max_age: Duration = Duration.parse("30 days")


class ChannelsSettings(Section):
    """Which channels run, and how."""

    sms: SmsSettings = SmsSettings()
    email: EmailSettings = EmailSettings()
    telegram: TelegramSettings = TelegramSettings()
    web: WebChatSettings = WebChatSettings()


class ConversationSettings(Section):
    """How the intake conversation behaves."""

    language: Literal["en"] = "en"
    idle_timeout: Duration = Duration.parse("2 hours")
    """After this long without a reply a partial report is saved (and flagged if risky)."""
    attachment_max_bytes: int = Field(default=10_000_000, ge=1)

    @field_validator("idle_timeout")
    @classmethod
    def _elapsed(cls, value: Duration) -> Duration:
        value.as_timedelta()  # raises for working days and months: a gap is elapsed time
        return value


class ConsoleSection(Section):
    """Signing in to the officer console."""

    lockout_after: int = Field(default=5, ge=1)
    """Wrong passwords in a row before an account is locked."""
    lockout_for: Duration = Duration.parse("15 minutes")
    failed_sign_ins_per_ip: int = Field(default=20, ge=1)
    """Failed sign-ins from one address (any account) before that address must wait."""
    failed_sign_ins_window: Duration = Duration.parse("15 minutes")

    @field_validator("lockout_for", "failed_sign_ins_window")
    @classmethod
    def _elapsed(cls, value: Duration) -> Duration:
        value.as_timedelta()  # raises for working days and months: elapsed time only
        return value


class Settings(Section):
    """Everything the service needs, validated before anything starts."""

    service: ServiceSettings = ServiceSettings()
    http: HttpSettings = HttpSettings()
    database: DatabaseSettings = DatabaseSettings()
    policy: Policy
    team: TeamSettings = TeamSettings()
    conversation: ConversationSettings = ConversationSettings()
    channels: ChannelsSettings = ChannelsSettings()
    console: ConsoleSection = ConsoleSection()


# --- loading ------------------------------------------------------------------------------


def load_settings(
    path: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read and validate the config file and the environment overrides.

    Args:
        path: the YAML file; defaults to ``$INTAKE_CONFIG`` or ``config.yaml``.
        environ: the environment to read ``INTAKE_*`` overrides from (``os.environ``).

    Raises:
        ConfigError: with a one-line message naming the file, key, bad value and what is
            allowed.
    """
    env = os.environ if environ is None else environ
    file = Path(path) if path is not None else Path(env.get(ENV_CONFIG_PATH, DEFAULT_CONFIG))
    data = _read_yaml(file)
    _refuse_secrets_in_file(file, data)
    overrides = _environment_overrides(env)
    merged = _deep_merge(data, {k: v for k, v in overrides.items()})
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, file, overrides)) from None


def _read_yaml(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such config file") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot be read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"{file}:{where}: not valid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of sections")
    return data


def _secret_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        annotation = field.annotation
        options = get_args(annotation) if get_origin(annotation) is not None else (annotation,)
        if SecretStr in options:
            found.append(path)
        for option in options:
            if isinstance(option, type) and issubclass(option, Section):
                found.extend(_secret_paths(option, path))
    return found


def _refuse_secrets_in_file(file: Path, data: Mapping[str, Any]) -> None:
    for path in _secret_paths(Settings):
        node: Any = data
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if node is not None:
            variable = ENV_PREFIX + "__".join(p.upper() for p in path)
            raise ConfigError(
                f"{file}: {'.'.join(path)}: secrets are read only from the environment; "
                f"remove it from the file and set {variable}"
            )


def _environment_overrides(env: Mapping[str, str]) -> dict[tuple[str, ...], Any]:
    overrides: dict[tuple[str, ...], Any] = {}
    sections = set(Settings.model_fields)
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG_PATH:
            continue
        parts = name[len(ENV_PREFIX) :].split("__")
        path = tuple(_env_key(p) for p in parts)
        if not path[0] or path[0] not in sections or len(path) < 2 or not all(path):
            raise ConfigError(
                f"environment: {name}: not a setting; use INTAKE_<SECTION>__<KEY> with a "
                f"section from {', '.join(sorted(sections))} (e.g. INTAKE_DATABASE__URL)"
            )
        value: Any = raw
        if raw[:1] in "[{":
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                raise ConfigError(f"environment: {name}: not valid JSON") from None
        overrides[path] = value
    return overrides


def _env_key(part: str) -> str:
    # Priorities are written P1/P2/P3 in the file; everything else is lower case.
    return part if re.fullmatch(r"P[0-9]", part) else part.lower()


def _deep_merge(data: dict[str, Any], overrides: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    merged: dict[str, Any] = json.loads(json.dumps(data, default=str)) if overrides else data
    for path, value in overrides.items():
        node = merged
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[path[-1]] = value
    return merged


def _describe(exc: ValidationError, file: Path, overrides: Mapping[tuple[str, ...], Any]) -> str:
    errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    loc = tuple(str(p) for p in first["loc"] if not str(p).startswith("function-"))
    key = ".".join(loc) or "(top level)"
    source = str(file)
    for path in overrides:
        if loc[: len(path)] == path:
            source = "environment variable " + ENV_PREFIX + "__".join(p.upper() for p in path)
    message = str(first["msg"]).removeprefix("Value error, ").replace("Input should be", "expected")
    kind = first["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        line = f"{source}: {key}: unknown key; allowed here: {allowed}"
    elif kind == "missing":
        line = f"{source}: {key}: required but missing"
    else:
        value = first.get("input")
        shown = value if isinstance(value, (str, int, float, bool)) or value is None else None
        if loc in _secret_paths(Settings):
            shown = None  # never repeat a secret in an error line
        line = (
            f"{source}: {key} = {shown!r}: {message}"
            if shown is not None
            else f"{source}: {key}: {message}"
        )
    if len(errors) > 1:
        line += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return line


def _allowed_keys(loc: tuple[str, ...]) -> str:
    model: Any = Settings
    for key in loc:
        fields = getattr(model, "model_fields", None)
        if fields is None:
            return "see the documentation"
        if key in fields:
            model = _model_in(fields[key].annotation)
        # Otherwise a key inside a mapping (priorities.P1) or a list index: same model.
    fields = getattr(model, "model_fields", None)
    return ", ".join(fields) if fields else "see the documentation"


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in reversed(get_args(annotation)):
        inner = _model_in(arg)
        if inner is not None:
            return inner
    return None
