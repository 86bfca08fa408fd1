"""CLI for the incident area: ``dutydesk integration create|list|revoke`` and
``dutydesk page-reply`` (an MTA pipes a reply to a page into it).

Registered by ``dutydesk.cli`` with ``main.add_command(integration)`` and
``main.add_command(page_reply)``.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy import select

from dutydesk.cli_common import CLI_ACTOR, _database, _settings, friendly_errors


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


@click.command("page-reply")
@click.argument("message_file", type=click.File("rb"), default="-")
@friendly_errors
def page_reply(message_file: Any) -> None:
    """Act on one mail (RFC 822, from MESSAGE_FILE or stdin) that replies to a page.

    For an MTA alias or a mailbox filter (e.g. ``duty: "|dutydesk page-reply"``). Exit status
    0: it was a reply to a page (acted on, or refused and audited); 1: it is not one (hand it
    to the request intake instead).
    """
    from email import message_from_binary_file, policy

    from dutydesk.core.db import utcnow
    from dutydesk.incidents.replies import handle_page_reply
    from dutydesk.requests.service import resolve_linked

    message = message_from_binary_file(message_file, policy=policy.default)
    settings = _settings()
    database = _database(settings)
    with database.session() as s:
        consumed = handle_page_reply(s, settings, message, utcnow(),  # type: ignore[arg-type]
                                     after_resolve=resolve_linked)
    click.echo("reply to a page: handled" if consumed else "not a reply to a page")
    sys.exit(0 if consumed else 1)
