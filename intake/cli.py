"""The ``intake`` command: configuration checks, database migrations and the service."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from intake import __version__
from intake.settings import ENV_CONFIG_PATH, ConfigError, Settings, load_settings

log = logging.getLogger("intake")


def _load(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="intake")
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    envvar=ENV_CONFIG_PATH,
    default=None,
    help="Config file (default: $INTAKE_CONFIG or ./config.yaml).",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """Reports of anti-social behaviour and hate crime for social landlords."""
    ctx.obj = config


@main.group("config")
def config_group() -> None:
    """Check configuration files."""


@config_group.command("check")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.pass_obj
def config_check(config: Path | None, file: Path | None) -> None:
    """Validate FILE (or the configured file) and the INTAKE_* environment, start nothing."""
    path = file or config
    settings = _load(path)
    policy = settings.policy
    targets = ", ".join(f"{p} {t.first_contact}" for p, t in policy.priorities.items())
    click.echo(
        f"{path or 'config.yaml'}: OK: {policy.name} ({policy.nation.value}, {policy.timezone}); "
        f"first contact {targets}"
    )


@main.group("db")
def db_group() -> None:
    """Create and migrate the database."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@click.pass_obj
def db_upgrade(config: Path | None, revision: str) -> None:
    """Bring the database schema up to REVISION (default: the latest)."""
    from storage.migrate import current_revision_blocking, upgrade

    settings = _load(config)
    url = settings.database.sqlalchemy_url()
    upgrade(url, revision)
    click.echo(f"database at revision {current_revision_blocking(url)}")


@db_group.command("downgrade")
@click.argument("revision")
@click.pass_obj
def db_downgrade(config: Path | None, revision: str) -> None:
    """Take the database schema down to REVISION ('base' removes every table)."""
    from storage.migrate import current_revision_blocking, downgrade

    settings = _load(config)
    url = settings.database.sqlalchemy_url()
    downgrade(url, revision)
    click.echo(f"database at revision {current_revision_blocking(url) or 'base (empty)'}")


@db_group.command("current")
@click.pass_obj
def db_current(config: Path | None) -> None:
    """Show the database's schema revision."""
    from storage.migrate import current_revision_blocking, head_revision

    settings = _load(config)
    current = current_revision_blocking(settings.database.sqlalchemy_url())
    click.echo(f"database at {current or 'base (empty)'}; latest is {head_revision()}")


@main.command("serve")
@click.option("--host", default=None, help="Override http.host.")
@click.option("--port", default=None, type=int, help="Override http.port.")
@click.pass_obj
def serve(config: Path | None, host: str | None, port: int | None) -> None:
    """Run the service: migrate the database, then serve HTTP until SIGTERM or Ctrl-C."""
    settings = _load(config)
    logging.basicConfig(
        level=settings.service.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    asyncio.run(_serve(settings, host, port))


async def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    import uvicorn

    from intake.app import create_app
    from intake.bootstrap import build_storage, migrate, sync_team

    await migrate(settings)
    storage = build_storage(settings)
    try:
        await sync_team(storage, settings.team)
        app = create_app(settings, storage)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host or settings.http.host,
                port=port if port is not None else settings.http.port,
                log_level=settings.service.log_level.lower(),
                lifespan="off",
            )
        )
        log.info(
            "serving %s on http://%s:%s",
            settings.service.name,
            host or settings.http.host,
            port if port is not None else settings.http.port,
        )
        await server.serve()
    finally:
        await storage.close()


if __name__ == "__main__":  # pragma: no cover
    main()
