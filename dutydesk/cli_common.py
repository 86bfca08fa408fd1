"""What every ``dutydesk`` sub-command shares: settings, the database, and errors a person can
cause turned into a message and an exit code. ``dutydesk.cli`` and the area CLIs
(``cli_checks``, ``cli_incidents``) import it; it imports none of them."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from dutydesk.accounts import ValidationError
from dutydesk.core.config import (
    ConfigError,
    Settings,
    forget_secret_environment,
    load_settings,
)
from dutydesk.core.db import Database
from dutydesk.core.plan import Plan
from dutydesk.migrate import NotMigratedError

F = TypeVar("F", bound=Callable[..., Any])
CLI_ACTOR = "cli"


def friendly_errors(func: F) -> F:
    """Turn the errors a person can cause into a message and exit code 2 (usage) or 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except NotMigratedError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except ValidationError as exc:
            click.echo(f"Error: {exc.field}: {exc.message}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _settings() -> Settings:
    """The command's settings, loaded once; the secret variables then leave the environment
    (``forget_secret_environment``) so no child process (a plugin) inherits them."""
    ctx = click.get_current_context(silent=True)
    meta = ctx.find_root().meta if ctx is not None else {}
    if "dutydesk.settings" not in meta:
        meta["dutydesk.settings"] = load_settings()
        forget_secret_environment()
    return meta["dutydesk.settings"]


def _database(settings: Settings, *, migrated: bool = True, worker: bool = False) -> Database:
    from dutydesk.migrate import ensure_migrated

    db = Database(settings.database_url, worker=worker)
    if migrated:
        ensure_migrated(db)
    return db


def echo_plan(result: Plan, *, dry_run: bool, removed: str = "removed") -> None:
    """Print what an ``apply`` changed (or, with ``dry_run``, would change) and a summary
    line; ``removed`` names what happened to the entries no longer in the file."""
    for line in result.lines():
        click.echo(line)
    if result.empty:
        click.echo("no changes")
    elif dry_run:
        click.echo("dry run: nothing was changed")
    else:
        click.echo(f"applied: {len(result.added)} added, {len(result.changed)} changed, "
                   f"{len(result.removed)} {removed}")
