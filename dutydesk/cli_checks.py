"""``dutydesk checks``: apply a YAML file of checks (with a dry-run diff), export, list."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select

from dutydesk.cli_common import CLI_ACTOR, _database, _settings, echo_plan, friendly_errors


@click.group()
def checks() -> None:
    """Checks as code: apply, export and list check definitions."""


@checks.command("apply")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print the diff, change nothing.")
@friendly_errors
def checks_apply(file: str, dry_run: bool) -> None:
    """Make the database match FILE: add, change and remove checks, groups, dependencies and
    maintenance windows in one transaction (all or nothing), audited."""
    from checks.config import ChecksConfigError, load_config
    from checks.config_db import apply, plan

    try:
        config = load_config(file)
    except ChecksConfigError as exc:
        for line in exc.errors:
            click.echo(f"Error: {line}", err=True)
        raise SystemExit(2) from None
    settings = _settings()
    missing = _missing_plugins(config, settings.plugin_dirs)
    if missing:
        for line in missing:
            click.echo(f"Error: {line}", err=True)
        raise SystemExit(2)
    db = _database(settings)
    with db.session() as session:
        try:
            result = plan(session, config) if dry_run else apply(session, config, CLI_ACTOR)
        except ValueError as exc:  # e.g. a location naming no probe: nothing is applied
            session.rollback()
            click.echo(f"Error: {exc}", err=True)
            raise SystemExit(2) from None
        if dry_run:
            session.rollback()
    echo_plan(result, dry_run=dry_run)


def _missing_plugins(config: Any, plugin_dirs: tuple[str, ...]) -> list[str]:
    """'file:line check 'x': plugin ... not found' for each plugin check that cannot run here."""
    from checks.probes.plugin import PluginRefused, locate_plugin

    problems = []
    for check in config.checks:
        if check.values.get("type") != "plugin":
            continue
        try:
            locate_plugin(str(check.values["spec"]["command"][0]), plugin_dirs)
        except PluginRefused as exc:
            problems.append(f"line {check.line}: check {check.name!r}: {exc}")
    return problems


@checks.command("export")
@friendly_errors
def checks_export() -> None:
    """Print every check, group and maintenance window as YAML that `apply` accepts."""
    from checks.config_db import export

    db = _database(_settings())
    with db.session() as session:
        click.echo(export(session), nl=False)


@checks.command("list")
@friendly_errors
def checks_list() -> None:
    """List checks with their type, group and current status."""
    from checks.models import Check, CheckGroup, CheckStateRow

    db = _database(_settings())
    with db.session() as session:
        rows = session.execute(
            select(Check.slug, Check.type, CheckGroup.path, CheckStateRow.status, Check.enabled)
            .outerjoin(CheckGroup, CheckGroup.id == Check.group_id)
            .outerjoin(CheckStateRow, CheckStateRow.check_id == Check.id)
            .order_by(CheckGroup.path, Check.slug)
        ).all()
    for slug, type_name, group, status, enabled in rows:
        flag = "" if enabled else "  (disabled)"
        click.echo(f"{slug:30} {type_name:11} {status or 'PENDING':12} {group or '-'}{flag}")
    if not rows:
        click.echo("no checks")
