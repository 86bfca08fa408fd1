"""The ``dutydesk`` command: set up, run, and administer an installation.

Every failure a person can cause (bad setting, bad argument, un-migrated database, invalid
input) ends with a one-paragraph message on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click
from sqlalchemy import select

from dutydesk import __version__
from dutydesk.cli_catalog import catalog
from dutydesk.cli_checks import checks
from dutydesk.cli_common import CLI_ACTOR, _database, _settings, friendly_errors
from dutydesk.cli_facility import facility
from dutydesk.cli_incidents import integration, page_reply
from dutydesk.cli_probe import probe
from dutydesk.cli_site import site
from dutydesk.core.config import forget_secret_environment
from dutydesk.serving import _run_forever, serve_app


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dutydesk")
def main() -> None:
    """DutyDesk: monitoring wall, incidents, shifts, visitor log and status page.

    Settings come from DUTYDESK_* environment variables and an optional YAML file named by
    DUTYDESK_CONFIG; see README.md for the full list.
    """


# --------------------------------------------------------------------------- setup


@main.command()
@click.option("--admin-email", envvar="DUTYDESK_ADMIN_EMAIL", help="Email of the first admin.")
@click.option(
    "--admin-password", envvar="DUTYDESK_ADMIN_PASSWORD", help="Password of the first admin."
)
@friendly_errors
def init(admin_email: str | None, admin_password: str | None) -> None:
    """Create the database schema and the first admin account.

    Email and password come from DUTYDESK_ADMIN_EMAIL / DUTYDESK_ADMIN_PASSWORD or prompts.
    Running it again on an initialised database only applies pending migrations.
    """
    from dutydesk import accounts, migrate
    from dutydesk.models import Role, User

    settings = _settings()
    db = _database(settings, migrated=False)
    migrate.upgrade(db)
    click.echo(f"Database ready at {db.engine.url.render_as_string(hide_password=True)}")
    with db.session() as s:
        if s.scalar(select(User.id).where(User.role == Role.ADMIN).limit(1)) is not None:
            click.echo("An admin already exists; nothing else to do.")
            return
        if not admin_email:
            if not sys.stdin.isatty():
                raise click.UsageError(
                    "no admin email: set DUTYDESK_ADMIN_EMAIL or pass --admin-email"
                )
            admin_email = click.prompt("First admin's email")
        if not admin_password:
            if not sys.stdin.isatty():
                raise click.UsageError(
                    "no admin password: set DUTYDESK_ADMIN_PASSWORD or pass --admin-password"
                )
            admin_password = click.prompt(
                "Password (10+ characters)", hide_input=True, confirmation_prompt=True
            )
        user = accounts.create_user(
            s, CLI_ACTOR, email=admin_email, password=admin_password, role=Role.ADMIN
        )
        click.echo(f"Admin {user.email} created.")


@main.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@friendly_errors
def db_upgrade(revision: str) -> None:
    """Apply pending migrations."""
    from dutydesk import migrate

    database = _database(_settings(), migrated=False)
    before = migrate.current_revision(database)
    migrate.upgrade(database, revision)
    after = migrate.current_revision(database)
    click.echo(f"Schema at {after} (was {before or 'empty'}).")


@db.command("current")
@friendly_errors
def db_current() -> None:
    """Show the schema revision and whether migrations are pending."""
    from dutydesk import migrate

    database = _database(_settings(), migrated=False)
    current, head = migrate.current_revision(database), migrate.head_revision(database)
    click.echo(f"current: {current or 'empty'}\nhead:    {head}")
    if current != head:
        click.echo("Migrations pending: run `dutydesk db upgrade`.")
        sys.exit(1)


# --------------------------------------------------------------------------- running


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@friendly_errors
def serve(host: str, port: int) -> None:
    """Run the web app and the scheduler in one process."""
    serve_app(_settings(), host, port)


@main.command()
@click.option("--bind", default="127.0.0.1:8080", show_default=True, help="host:port to bind.")
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="gunicorn worker processes.",
)
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Threads per worker (live wall streams hold one each).",
)
@friendly_errors
def web(bind: str, workers: int, threads: int) -> None:
    """Run the production web server (gunicorn). Run `dutydesk worker` separately."""
    from gunicorn.app.base import BaseApplication

    from dutydesk.app import create_app

    settings = _settings()
    _database(settings).dispose()  # refuse to start on an un-migrated database

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 20)
            self.cfg.set("accesslog", None)

        def load(self) -> Any:
            return create_app(settings)

    _Gunicorn().run()


@main.command()
@friendly_errors
def worker() -> None:
    """Run the scheduler only (checks, notifications, escalations, housekeeping)."""
    from dutydesk.worker import MetricsEndpointError, Worker

    settings = _settings()
    from dutydesk.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    database = _database(settings, worker=True)
    w = Worker(settings, database)
    try:
        w.start()
    except MetricsEndpointError as exc:  # nothing else has started
        raise click.ClickException(str(exc)) from None
    click.echo(f"DutyDesk worker {w.name} running (Ctrl+C to stop)")
    if w.metrics_address is not None:
        click.echo(f"Metrics on http://{w.metrics_address[0]}:{w.metrics_address[1]}/metrics")
    _run_forever(w.stop)


# --------------------------------------------------------------------------- users and tokens


@main.group()
def user() -> None:
    """Manage user accounts."""


@user.command("add")
@click.option("--email", required=True)
@click.option(
    "--role", required=True, type=click.Choice(["viewer", "engineer", "shift_lead", "admin"])
)
@click.option("--name", default="")
@click.option(
    "--password",
    envvar="DUTYDESK_USER_PASSWORD",
    help="Initial password (or DUTYDESK_USER_PASSWORD, or a prompt).",
)
@friendly_errors
def user_add(email: str, role: str, name: str, password: str | None) -> None:
    """Add a user."""
    from dutydesk import accounts

    if not password:
        if not sys.stdin.isatty():
            raise click.UsageError("no password: pass --password or set DUTYDESK_USER_PASSWORD")
        password = click.prompt(
            "Password (10+ characters)", hide_input=True, confirmation_prompt=True
        )
    database = _database(_settings())
    with database.session() as s:
        created = accounts.create_user(
            s, CLI_ACTOR, email=email, password=password, role=role, name=name
        )
        click.echo(f"User {created.email} ({created.role.value}) added.")


@user.command("list")
@friendly_errors
def user_list() -> None:
    """List users."""
    from dutydesk.models import User

    database = _database(_settings())
    with database.session() as s:
        rows = list(s.scalars(select(User).order_by(User.email)))
        for u in rows:
            state = "active" if u.active else "disabled"
            click.echo(f"{u.id:>4}  {u.email:<40} {u.role.value:<11} {state}")
        if not rows:
            click.echo("No users yet: run `dutydesk init`.")


@user.command("disable")
@click.argument("email")
@friendly_errors
def user_disable(email: str) -> None:
    """Disable a user (signs them out everywhere)."""
    from sqlalchemy import func

    from dutydesk import accounts
    from dutydesk.models import Role, User

    database = _database(_settings())
    with database.session() as s:
        target = s.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
        if target is None:
            raise click.ClickException(f"no user with email {email!r}")
        if not target.active:
            raise click.ClickException(f"{target.email} is already disabled")
        if target.role is Role.ADMIN:
            accounts.require_another_active_admin(s, target)
        accounts.update_user(s, CLI_ACTOR, target, active=False)
        click.echo(f"User {target.email} disabled.")


@main.group()
def token() -> None:
    """Manage API tokens for integrations."""


@token.command("create")
@click.option("--name", required=True, help="What uses the token, e.g. 'Alertmanager'.")
@click.option(
    "--role", required=True, type=click.Choice(["viewer", "engineer", "shift_lead", "admin"])
)
@friendly_errors
def token_create(name: str, role: str) -> None:
    """Create a token; the secret is printed alone on the last line, once."""
    from dutydesk import accounts

    database = _database(_settings())
    with database.session() as s:
        created, plaintext = accounts.create_token(s, CLI_ACTOR, name=name, role=role)
        click.echo(
            f"Token {created.id} {created.name!r} ({created.role.value}) created. "
            "Store it now; it cannot be shown again:"
        )
    click.echo(plaintext)


@token.command("list")
@friendly_errors
def token_list() -> None:
    """List tokens (never their secrets)."""
    from dutydesk.models import ApiToken

    database = _database(_settings())
    with database.session() as s:
        for t in s.scalars(select(ApiToken).order_by(ApiToken.id)):
            state = "active" if t.active else f"revoked {t.revoked_at:%Y-%m-%d %H:%M}Z"
            click.echo(f"{t.id:>4}  dd_{t.prefix}_…  {t.name:<30} {t.role.value:<11} {state}")


@token.command("revoke")
@click.argument("token_id", type=int)
@friendly_errors
def token_revoke(token_id: int) -> None:
    """Revoke a token by its id (see `dutydesk token list`)."""
    from dutydesk import accounts
    from dutydesk.models import ApiToken

    database = _database(_settings())
    with database.session() as s:
        target = s.get(ApiToken, token_id)
        if target is None:
            raise click.ClickException(f"no token with id {token_id}")
        accounts.revoke_token(s, CLI_ACTOR, target)
        click.echo(f"Token {target.id} {target.name!r} revoked.")


@main.group()
def kiosk() -> None:
    """Manage kiosk links for wall screens."""


@kiosk.command("create")
@click.option("--name", required=True, help="Screen name, e.g. 'Hall A wall'.")
@click.option("--site", default=None,
              help="Slug of the site whose wall the screen shows (default: every site).")
@friendly_errors
def kiosk_create(name: str, site: str | None) -> None:
    """Create a kiosk link; the URL is printed alone on the last line, once."""
    from dutydesk import accounts

    settings = _settings()
    database = _database(settings)
    with database.session() as s:
        link, plaintext = accounts.create_kiosk_link(s, CLI_ACTOR, name=name, site=site)
        click.echo(f"Kiosk link {link.id} for {link.name!r} ("
                   + (f"site {site}" if site else "every site") + ") created:")
    click.echo(f"{settings.base_url}/kiosk/{plaintext}")


@kiosk.command("revoke")
@click.argument("link_id", type=int)
@friendly_errors
def kiosk_revoke(link_id: int) -> None:
    """Revoke a kiosk link by id; screens using it are signed out."""
    from dutydesk import accounts
    from dutydesk.models import KioskLink

    database = _database(_settings())
    with database.session() as s:
        link = s.get(KioskLink, link_id)
        if link is None:
            raise click.ClickException(f"no kiosk link with id {link_id}")
        accounts.revoke_kiosk_link(s, CLI_ACTOR, link)
        click.echo(f"Kiosk link {link.id} {link.name!r} revoked.")


# --------------------------------------------------------------------------- demo


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--keep", is_flag=True, help="Reuse the existing demo database instead of a fresh one."
)
@friendly_errors
def demo(host: str, port: int, keep: bool) -> None:
    """Run a realistic small data center on 127.0.0.1 and serve DutyDesk on it."""
    from dutydesk.demo import run_demo

    environ = dict(os.environ)
    forget_secret_environment()  # the demo's plugins must not inherit them either
    run_demo(host=host, port=port, keep=keep, environ=environ)


main.add_command(integration)
main.add_command(page_reply)
main.add_command(checks)
main.add_command(catalog)
main.add_command(facility)
main.add_command(probe)
main.add_command(site)
