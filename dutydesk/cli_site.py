"""``dutydesk site``: the data centers one DutyDesk watches (``create``, ``list``, ``edit``,
``delete``). The rules live in :mod:`dutydesk.core.site_registry`, shared with ``/admin/sites``;
every change is audit-logged as the CLI."""

from __future__ import annotations

import sys

import click

from dutydesk.cli_common import CLI_ACTOR, _database, _settings, friendly_errors


@click.group()
def site() -> None:
    """Manage sites (data centers): checks, probes, schedules and visitors belong to one."""


def _fail(exc: Exception) -> None:
    click.echo(f"Error: {exc}", err=True)
    sys.exit(1)


@site.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="What people call it (e.g. 'Kyiv DC2').")
@click.option("--zone", default="UTC", show_default=True,
              help="IANA time zone of the site (e.g. Europe/Kyiv).")
@friendly_errors
def site_create(slug: str, name: str, zone: str) -> None:
    """Create site SLUG (a-z 0-9 -; used in URLs, YAML and `probe --site`)."""
    import dutydesk.models  # noqa: F401 (every table, for the counts)
    from dutydesk.core.audit import record
    from dutydesk.core.site_registry import SiteError, create_site

    db = _database(_settings())
    with db.session() as s:
        try:
            made = create_site(s, slug, name, zone)
        except SiteError as exc:
            _fail(exc)
        record(s, CLI_ACTOR, "site.create", "site", made.id,
               summary=f"site {made.slug} ({made.name}, {made.time_zone}) created",
               after={"slug": made.slug, "name": made.name, "time_zone": made.time_zone})
        click.echo(f"site {made.slug} created: {made.name}, {made.time_zone}")


@site.command("list")
@friendly_errors
def site_list() -> None:
    """Every site: slug, name, zone, checks, live probes (tab-separated)."""
    import dutydesk.models  # noqa: F401
    from dutydesk.core.site_registry import summaries

    db = _database(_settings())
    with db.session() as s:
        click.echo("slug\tname\tzone\tchecks\tprobes")
        for row in summaries(s):
            click.echo(f"{row.site.slug}\t{row.site.name}\t{row.site.time_zone}\t"
                       f"{row.checks}\t{row.probes}")


@site.command("edit")
@click.argument("slug")
@click.option("--name", default=None, help="A new name.")
@click.option("--zone", default=None, help="A new IANA time zone.")
@friendly_errors
def site_edit(slug: str, name: str | None, zone: str | None) -> None:
    """Change the name and/or the time zone of site SLUG (the slug itself never changes)."""
    import dutydesk.models  # noqa: F401
    from dutydesk.core.audit import record
    from dutydesk.core.site_registry import SiteError, edit_site

    if name is None and zone is None:
        raise click.UsageError("nothing to change: give --name and/or --zone")
    db = _database(_settings())
    with db.session() as s:
        try:
            changed, before = edit_site(s, slug, name, zone)
        except SiteError as exc:
            _fail(exc)
        record(s, CLI_ACTOR, "site.edit", "site", changed.id,
               summary=f"site {changed.slug} edited", before=before,
               after={"name": changed.name, "time_zone": changed.time_zone})
        click.echo(f"site {changed.slug}: {changed.name}, {changed.time_zone}")


@site.command("delete")
@click.argument("slug")
@friendly_errors
def site_delete(slug: str) -> None:
    """Delete site SLUG; refused for the default site and while anything belongs to it."""
    import dutydesk.models  # noqa: F401
    from dutydesk.core.audit import record
    from dutydesk.core.site_registry import SiteError, delete_site

    db = _database(_settings())
    with db.session() as s:
        try:
            gone = delete_site(s, slug)
        except SiteError as exc:
            _fail(exc)
        record(s, CLI_ACTOR, "site.delete", "site", gone.id, summary=f"site {slug} deleted",
               before={"slug": gone.slug, "name": gone.name, "time_zone": gone.time_zone})
    click.echo(f"site {slug} deleted")
