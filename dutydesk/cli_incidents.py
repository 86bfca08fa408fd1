"""CLI for the incident area: ``dutydesk integration create|list|revoke``.

Registered at the end of ``dutydesk.cli`` with ``main.add_command(integration)``.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import click
from sqlalchemy import select

CLI_ACTOR = "cli"


def friendly_errors(func: Any) -> Any:
    """``dutydesk.cli.friendly_errors``, looked up at call time (cli imports this module)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from dutydesk.cli import friendly_errors as shared

        return shared(func)(*args, **kwargs)

    return wrapper


def _settings() -> Any:
    from dutydesk.cli import _settings as shared

    return shared()


def _database(settings: Any) -> Any:
    from dutydesk.cli import _database as shared

    return shared(settings)


@click.group()
def integration() -> None:
    """Inbound alert integrations (Alertmanager webhook, PagerDuty Events v2)."""


@integration.command("create")
@click.option(
    "--type",
    "kind",
    required=True,
    type=click.Choice(["pagerduty", "alertmanager"]),
    help="pagerduty: a routing key for POST /v2/enqueue; alertmanager: a Bearer key.",
)
@click.option("--name", required=True, help="What sends the alerts, e.g. prometheus-dc1.")
@click.option("--service", default=None, help="Service its alerts belong to (optional).")
@friendly_errors
def integration_create(kind: str, name: str, service: str | None) -> None:
    """Create an integration; the key is printed alone on the last line (shown once)."""
    from dutydesk.incidents.integrations import IntegrationError, create_integration

    settings = _settings()
    database = _database(settings)
    try:
        with database.session() as s:
            created, key = create_integration(s, CLI_ACTOR, type=kind, name=name, service=service)
            ident = created.id
    except IntegrationError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    base = settings.base_url.rstrip("/")
    click.echo(f"Integration {ident} ({kind}) {name!r} created. Keep the key; it is shown once.")
    if kind == "pagerduty":
        click.echo(f"Send PagerDuty Events v2 to {base}/v2/enqueue with this routing_key:")
    else:
        click.echo(
            f"Alertmanager webhook_config: url {base}/api/v1/integrations/alertmanager, "
            "http_config.authorization.credentials:"
        )
    click.echo(key)


@integration.command("list")
@friendly_errors
def integration_list() -> None:
    """List integrations (never their keys)."""
    from dutydesk.incidents.models import Integration

    database = _database(_settings())
    with database.session() as s:
        for row in s.scalars(select(Integration).order_by(Integration.id)):
            state = "active" if row.active else "revoked"
            click.echo(f"{row.id}\t{row.type}\t{row.name}\t{row.key_prefix}…\t{state}")


@integration.command("revoke")
@click.argument("integration_id", type=int)
@friendly_errors
def integration_revoke(integration_id: int) -> None:
    """Revoke an integration by id; its key stops working at once."""
    from dutydesk.incidents.integrations import revoke_integration
    from dutydesk.incidents.models import Integration

    database = _database(_settings())
    with database.session() as s:
        row = s.get(Integration, integration_id)
        if row is None:
            raise click.ClickException(f"no integration with id {integration_id}")
        revoke_integration(s, CLI_ACTOR, row)
    click.echo(f"Integration {integration_id} revoked.")
