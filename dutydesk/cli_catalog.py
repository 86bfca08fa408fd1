"""``dutydesk catalog``: the service catalog as code — apply a YAML file (with a dry-run diff),
export it, list it. File shape: see ``dutydesk.requests.catalog.items.as_document``."""

from __future__ import annotations

from pathlib import Path

import click

from dutydesk.cli_common import CLI_ACTOR, _database, _settings, echo_plan, friendly_errors


@click.group()
def catalog() -> None:
    """Service catalog as code: apply, export and list catalog items."""


@catalog.command("apply")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print the diff, change nothing.")
@friendly_errors
def catalog_apply(file: str, dry_run: bool) -> None:
    """Make the catalog match FILE in one transaction (all or nothing), audited: add and change
    items; items no longer in the file are retired (requests keep naming them)."""
    from dutydesk.core.db import utcnow
    from dutydesk.requests.catalog.store import CatalogFileError, apply, parse_document, plan
    from shifts.notices.storage import load_services

    try:
        source = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"Error: cannot read {file}: {exc}", err=True)
        raise SystemExit(2) from None
    db = _database(_settings())
    with db.session() as session:
        services = [s.id for s in load_services(session)[1]]
        try:
            items = parse_document(source, services)
        except CatalogFileError as exc:
            for line in exc.errors:
                click.echo(f"Error: {file}: {line}", err=True)
            raise SystemExit(2) from None
        result = plan(session, items) if dry_run else apply(session, items, CLI_ACTOR, utcnow())
        if dry_run:
            session.rollback()
    echo_plan(result, dry_run=dry_run, removed="retired")


@catalog.command("export")
@friendly_errors
def catalog_export() -> None:
    """Print every catalog item as YAML that `apply` accepts."""
    from dutydesk.requests.catalog.store import export

    db = _database(_settings())
    with db.session() as session:
        click.echo(export(session), nl=False)


@catalog.command("list")
@friendly_errors
def catalog_list() -> None:
    """List catalog items with their type, priority, line and SLA targets."""
    from dutydesk.requests.catalog.store import list_items

    db = _database(_settings())
    with db.session() as session:
        items = list_items(session, active_only=False)
    for i in items:
        sla = f"{i.first_response_minutes or '-'}/{i.resolve_minutes or '-'} min"
        flag = "" if i.active else "  (retired)"
        click.echo(f"{i.key:40} {i.request_type:16} {i.default_priority or '--':3} "
                   f"{i.default_line:12} {sla}{flag}")
    if not items:
        click.echo("no catalog items")
