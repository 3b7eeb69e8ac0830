"""The ``candor`` command: serve, migrate, keys, demo."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from app.core import eventloop
from app.core.settings import Settings, get_settings

cli = typer.Typer(help="Candor: the candidate-communication backend.", no_args_is_help=True)
keys_cli = typer.Typer(help="API keys.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")

ROOT = Path(__file__).resolve().parent.parent


def run_migrations(database_url: str) -> None:
    """``alembic upgrade head`` on ``database_url``: the only way a schema is made."""
    from alembic.config import Config

    from alembic import command

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = database_url
    command.upgrade(cfg, "head")


@cli.command()
def migrate() -> None:
    """Bring the database at CANDOR_DATABASE_URL up to the latest schema."""
    run_migrations(get_settings().database_url)
    typer.echo("database is at the latest schema")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Server processes sharing the port (default: $WEB_CONCURRENCY, else 1); "
            "about one per core",
        ),
    ] = None,
) -> None:
    """Serve the API (the schema must be migrated first: `candor migrate`)."""
    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,  # None: uvicorn reads WEB_CONCURRENCY, else one process
        log_level=settings.log_level,
        proxy_headers=True,
    )


@cli.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Do what is due, then exit")] = False,
    now: Annotated[
        str | None, typer.Option(help="Act as if it were this instant (RFC 3339); needs --once")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Checks per claim")] = 1000,
    lease_seconds: Annotated[int, typer.Option(min=5, help="Claim lease")] = 300,
    poll_interval: Annotated[float, typer.Option(min=0.05, help="Idle sleep (s)")] = 2.0,
    only: Annotated[
        list[str] | None, typer.Option(help="Run only this registered job or sweeper kind")
    ] = None,
) -> None:
    """Fire due SLA checks continuously (or once, at --now, for backfills, demos and tests)."""
    from app.worker.loop import WorkerOptions, run

    at = None
    if now is not None:
        if not once:
            raise typer.BadParameter("--now goes with --once", param_hint="--now")
        try:
            at = datetime.fromisoformat(now)
        except ValueError:
            raise typer.BadParameter("not an RFC 3339 instant", param_hint="--now") from None
        if at.tzinfo is None:
            raise typer.BadParameter(
                "give an offset, e.g. 2026-12-01T09:00:00Z", param_hint="--now"
            )
    logging.basicConfig(
        level=get_settings().log_level.upper(), format="%(asctime)s %(name)s %(message)s"
    )
    options = WorkerOptions(
        batch=batch,
        lease=timedelta(seconds=lease_seconds),
        poll_interval=poll_interval,
        only=frozenset(only) if only else None,
    )
    from app.worker import registry

    # Every domain's work imported now, before the process's code is frozen (app.core.eventloop).
    registry.discover()
    if options.only is not None:
        try:
            registry.REGISTRY.select(options.only)
        except registry.UnknownKind as unknown:
            raise typer.BadParameter(str(unknown), param_hint="--only") from None
    done = eventloop.run(run(get_settings(), once=once, now=at, options=options))
    if once:
        typer.echo(f"fired {done.checks_fired} checks")
        typer.echo(f"sent {done.emails_sent} emails")


@keys_cli.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin or integration")],
    name: Annotated[str, typer.Option(help="The API client's name, e.g. 'ops laptop'")],
) -> None:
    """Create an API client (or reuse the one with this name) and print a new key once."""
    from pydantic import TypeAdapter, ValidationError

    from app.auth.bootstrap import create_client_key
    from app.core.models import Name

    if role not in ("admin", "integration"):
        raise typer.BadParameter("role must be admin or integration", param_hint="--role")
    try:  # the same rule as the API's (R-IN): one line, no control characters, 1-200 chars
        name = TypeAdapter(Name).validate_python(name)
    except ValidationError as exc:
        raise typer.BadParameter(exc.errors()[0]["msg"], param_hint="--name") from None
    key = eventloop.run(create_client_key(get_settings(), role=role, name=name))
    typer.echo(key)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def demo_address(port: int | None) -> tuple[str, int]:
    """Where the demo listens: ``--port`` (``make demo PORT=…``), else ``CANDOR_HOST`` and
    ``CANDOR_PORT`` as for ``candor serve``."""
    settings = get_settings()
    return settings.host, port or settings.port


@cli.command()
def demo(
    db: Annotated[Path, typer.Option(help="SQLite file (recreated)")] = Path("candor-demo.db"),
    port: Annotated[
        int | None, typer.Option(help="Port (default: CANDOR_PORT, else 8000)", min=1, max=65535)
    ] = None,
) -> None:
    """A fresh SQLite file with a small realistic agency, an admin key, and the API."""
    from app.demo import load_demo

    host, port = demo_address(port)

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{db.resolve()}"
    base = f"http://{host}:{port}"
    os.environ["CANDOR_DATABASE_URL"] = url
    # Links in emails and the printed portal link point at this demo (the API and its worker
    # read the same environment).
    os.environ.setdefault("CANDOR_PUBLIC_BASE_URL", base)
    get_settings.cache_clear()
    settings = Settings(database_url=url)
    run_migrations(url)
    summary = eventloop.run(load_demo(settings))
    typer.echo("")
    typer.echo(f"Candor demo on {db} — {summary}")
    typer.echo(f"  admin key (shown once): {summary.admin_key}")
    typer.echo(f"  API docs:               {base}/docs")
    typer.echo(f"  try: curl -H 'Authorization: Bearer {summary.admin_key}' {base}/v1/tasks")
    for name, key in summary.recruiter_keys.items():
        typer.echo(f"  recruiter {name}: {key}")
    typer.echo("  a worker runs beside the API: backdated submissions' checks fire within minutes")
    if summary.note_link:
        typer.echo(f"  a candidate's private link (write a thank-you note): {summary.note_link}")
    typer.echo("")
    # The worker is a separate process, as in production; it stops with the demo.
    worker_process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--poll-interval", "5"],
        env={**os.environ, "CANDOR_DATABASE_URL": url},
    )
    # uvicorn shuts down on SIGTERM, then raises it again with the handler found before it ran:
    # this one turns it into SystemExit, so the ``finally`` below still stops the worker.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.run("app.main:create_app", factory=True, host=host, port=port, log_level="info")
    finally:
        worker_process.terminate()
        worker_process.wait(timeout=30)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
