"""``dutydesk facility``: the SNMP trap / syslog rule document as code (apply with a dry run,
export), and what the inputs heard that became no alert."""

from __future__ import annotations

import click

from dutydesk.cli_common import CLI_ACTOR, _database, _settings, friendly_errors


@click.group()
def facility() -> None:
    """Facility inputs (SNMP traps, syslog): rules as code and unknown senders."""


@facility.command("apply")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--dry-run", is_flag=True, help="Validate and print what would change.")
@friendly_errors
def facility_apply(file: click.utils.LazyFile, dry_run: bool) -> None:
    """Validate FILE (YAML) and make it the rules every listener uses (within seconds)."""
    from dutydesk.core.db import utcnow
    from dutydesk.facility.rules import RulesError
    from dutydesk.facility.store import apply_rules, plan_rules

    document = file.read()
    settings = _settings()
    db = _database(settings)
    with db.session() as session:
        try:
            lines = plan_rules(session, document, secret_key=settings.secret_key)
            if not dry_run:
                apply_rules(session, document, by=CLI_ACTOR, now=utcnow(),
                            secret_key=settings.secret_key)
        except RulesError as exc:
            session.rollback()
            for problem in exc.problems:
                click.echo(f"Error: {problem}", err=True)
            raise SystemExit(2) from None
        if dry_run:
            session.rollback()
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo("no changes")
    click.echo("dry run: nothing was changed" if dry_run else "applied")


@facility.command("export")
@friendly_errors
def facility_export() -> None:
    """Print the applied rule document; SNMPv3 keys show as ******** (applying the file back
    keeps the stored keys; write a key in its place to change it)."""
    from dutydesk.facility.store import export_document

    db = _database(_settings())
    with db.session() as session:
        click.echo(export_document(session), nl=False)


@facility.command("heard")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 5000))
@friendly_errors
def facility_heard(limit: int) -> None:
    """Recent senders and messages that became no alert (unknown, unmatched, rejected,
    rate-limited), with counts."""
    from dutydesk.facility.store import recent_heard

    db = _database(_settings())
    with db.session() as session:
        rows = recent_heard(session, limit)
        for row in rows:
            click.echo(f"{row.last_seen:%Y-%m-%d %H:%M:%S}Z  {row.input:<6} {row.source:<15} "
                       f"{row.reason:<14} {row.count:>8}  {row.name}")
    if not rows:
        click.echo("nothing heard")
