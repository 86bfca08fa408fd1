"""``dutydesk probe``: run a remote probe (``--server URL --site SLUG``), or administer probes
(``create``, ``reenrol``, ``revoke``, ``list``, ``assign``) on the centre."""

from __future__ import annotations

import click

from dutydesk.cli_common import CLI_ACTOR, _database, _settings, friendly_errors


@click.group(invoke_without_command=True)
@click.option("--server", envvar="DUTYDESK_PROBE_SERVER", help="The centre's URL (https://...).")
@click.option("--site", "site", envvar="DUTYDESK_PROBE_SITE", help="This probe's site slug.")
@click.option("--state-dir", envvar="DUTYDESK_PROBE_STATE_DIR", default="./dutydesk-probe",
              show_default=True, help="Where the credential and the result buffer are kept.")
@click.option("--enrol-token", envvar="DUTYDESK_PROBE_ENROL_TOKEN",
              help="The one-time token of `dutydesk probe create` (first start only).")
@click.option("--buffer-max-results", envvar="DUTYDESK_PROBE_BUFFER_MAX", default=1_000_000,
              show_default=True, type=click.IntRange(100, 100_000_000),
              help="Results kept while the centre is away; the oldest beyond are dropped.")
@click.option("--buffer-max-age", envvar="DUTYDESK_PROBE_BUFFER_MAX_AGE", default=86400.0,
              show_default=True, type=click.FloatRange(60, 30 * 86400),
              help="Seconds a buffered result is kept at most.")
@click.option("--metrics-port", envvar="DUTYDESK_PROBE_METRICS_PORT", type=int, default=None,
              help="Serve the probe's /metrics on 127.0.0.1:PORT.")
@click.option("--trap-listen", envvar="DUTYDESK_PROBE_TRAP_LISTEN", default="",
              help="Receive SNMP traps and informs at the site on HOST:PORT (e.g. "
                   "0.0.0.0:1162) and forward them to the centre's facility rules.")
@click.option("--syslog-listen", envvar="DUTYDESK_PROBE_SYSLOG_LISTEN", default="",
              help="Receive syslog over UDP on HOST:PORT (e.g. 0.0.0.0:1514) and forward it.")
@click.option("--syslog-listen-tcp", envvar="DUTYDESK_PROBE_SYSLOG_LISTEN_TCP", default="",
              help="Receive syslog over TCP on HOST:PORT and forward it.")
@click.option("--snmp-community", "communities", multiple=True,
              envvar="DUTYDESK_PROBE_SNMP_COMMUNITIES",
              help="An SNMP v1/v2c community to accept (repeat it; the environment variable "
                   "takes a comma-separated list and keeps them out of `ps`).")
@click.option("--snmp-users", "snmp_users", envvar="DUTYDESK_PROBE_SNMP_USERS", default=None,
              help="A YAML file (not readable by everyone) with SNMPv3 users and communities, "
                   "in the facility rules' snmp: shape.")
@click.option("--input-rate-limit", envvar="DUTYDESK_PROBE_INPUT_RATE_LIMIT", default=200,
              show_default=True, type=click.IntRange(1, 1_000_000),
              help="Traps or syslog messages per second per sender before a flood is folded.")
@click.pass_context
@friendly_errors
def probe(ctx: click.Context, server: str | None, site: str | None, state_dir: str,
          enrol_token: str | None, buffer_max_results: int, buffer_max_age: float,
          metrics_port: int | None, trap_listen: str, syslog_listen: str,
          syslog_listen_tcp: str, communities: tuple[str, ...], snmp_users: str | None,
          input_rate_limit: int) -> None:
    """Run this machine as a remote probe of SITE, talking to SERVER over outbound HTTP(S) only.

    The first start exchanges --enrol-token for the probe's own credential (kept in
    --state-dir); results wait in a local buffer while the centre is unreachable. With
    --trap-listen / --syslog-listen it also receives the site's traps and syslog and forwards
    them, buffered the same way, to the centre's facility rules.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not server or not site:
        raise click.UsageError("a probe needs --server URL and --site SLUG "
                               "(or a subcommand: create, reenrol, revoke, list, assign)")
    from dutydesk import __version__
    from dutydesk.sites.agent import AgentConfig, AgentError, run_agent

    inputs = None
    if trap_listen or syslog_listen or syslog_listen_tcp:
        from dutydesk.facility.forward import InputsError, ProbeInputs, load_snmp_settings

        names = [n.strip() for c in communities for n in c.split(",")]
        try:
            inputs = ProbeInputs(state_dir, trap_listen=trap_listen, syslog_udp=syslog_listen,
                                 syslog_tcp=syslog_listen_tcp,
                                 snmp=load_snmp_settings(names, snmp_users) if trap_listen
                                 else None, rate_limit=input_rate_limit)
        except InputsError as exc:
            raise click.UsageError(str(exc)) from None
    config = AgentConfig(server=server.rstrip("/"), site=site, state_dir=state_dir,
                         enrol_token=enrol_token, max_results=buffer_max_results,
                         max_age=buffer_max_age, metrics_port=metrics_port,
                         version=__version__, inputs=inputs)
    try:
        run_agent(config)
    except AgentError as exc:
        raise click.ClickException(str(exc)) from None


@probe.command("create")
@click.option("--site", "site", required=True, help="The site's slug (`default` at first).")
@click.option("--grace", type=float, default=None, help="Seconds of silence before the probe "
              "counts as offline (default 120).")
@click.argument("name")
@friendly_errors
def probe_create(site: str, grace: float | None, name: str) -> None:
    """Create probe NAME at SITE and print its one-time enrolment token (valid 24 h)."""
    from dutydesk.core.audit import record
    from dutydesk.core.db import utcnow
    from dutydesk.sites.service import ProbeError, create_probe

    db = _database(_settings())
    with db.session() as s:
        try:
            issued = create_probe(s, site, name, utcnow(), grace)
        except ProbeError as exc:
            raise click.ClickException(str(exc)) from None
        record(s, CLI_ACTOR, "probe.create", "probe", issued.probe_id,
               summary=f"probe {name} created at site {site}")
    click.echo(f"probe {name} (id {issued.probe_id}) created at site {site}")
    click.echo(f"enrolment token (shown once, valid 24 h): {issued.secret}")


@probe.command("revoke")
@click.option("--site", "site", required=True)
@click.argument("name")
@friendly_errors
def probe_revoke(site: str, name: str) -> None:
    """Revoke probe NAME of SITE: its credential stops working at once."""
    from dutydesk.core.audit import record
    from dutydesk.core.db import utcnow
    from dutydesk.sites.service import ProbeError, find_probe, revoke_probe

    db = _database(_settings())
    with db.session() as s:
        try:
            found = find_probe(s, site, name)
        except ProbeError as exc:
            raise click.ClickException(str(exc)) from None
        revoke_probe(s, found, utcnow())
        record(s, CLI_ACTOR, "probe.revoke", "probe", found.id,
               summary=f"probe {name} of site {site} revoked")
    click.echo(f"probe {name} revoked")


@probe.command("reenrol")
@click.option("--site", "site", required=True)
@click.argument("name")
@friendly_errors
def probe_reenrol(site: str, name: str) -> None:
    """Print a new one-time enrolment token for probe NAME of SITE (its disk or state directory
    was replaced). It keeps its checks; its results are numbered on above what was stored."""
    from dutydesk.core.audit import record
    from dutydesk.core.db import utcnow
    from dutydesk.sites.service import ProbeError, find_probe, reissue_token

    db = _database(_settings())
    with db.session() as s:
        try:
            issued = reissue_token(s, find_probe(s, site, name), utcnow())
        except ProbeError as exc:
            raise click.ClickException(str(exc)) from None
        record(s, CLI_ACTOR, "probe.reenrol", "probe", issued.probe_id,
               summary=f"new enrolment token for probe {name} of site {site}")
    click.echo(f"enrolment token for probe {name} (shown once, valid 24 h): {issued.secret}")


@probe.command("assign")
@click.option("--site", "site", default=None, help="The site of the probes given by bare name "
              "(or name them SITE/PROBE).")
@click.option("--probe", "names", multiple=True, help="A probe among the check's locations "
              "(repeat for several); leave out to run the check on the central workers again.")
@click.option("--centre", is_flag=True, help="Also run the check on the central workers.")
@click.option("--min-down", type=int, default=None, help="Down only when at least K of its "
              "locations with fresh results see it down (1..n; default 1).")
@click.argument("check_slug")
@friendly_errors
def probe_assign(site: str | None, names: tuple[str, ...], centre: bool, min_down: int | None,
                 check_slug: str) -> None:
    """Set the locations of check CHECK_SLUG: probes (--probe, repeated) and/or the centre."""
    from sqlalchemy import select

    from checks.models import Check
    from dutydesk.core.audit import record
    from dutydesk.sites.service import ProbeError, find_probe, runs_on, set_locations

    db = _database(_settings())
    with db.session() as s:
        check_id = s.scalar(select(Check.id).where(Check.slug == check_slug))
        if check_id is None:
            raise click.ClickException(f"no check {check_slug!r}")
        try:
            probes = []
            for name in names:
                where, _slash, bare = name.rpartition("/")
                if not (where or site):
                    raise ProbeError(f"probe {name!r}: give --site or name it SITE/PROBE")
                probes.append(find_probe(s, where or site, bare))
            set_locations(s, check_id, probes, centre=centre or not probes,
                          min_down=min_down if min_down is not None else (1 if not probes
                                                                          else None))
        except ProbeError as exc:
            raise click.ClickException(str(exc)) from None
        k = s.get(Check, check_id).min_locations_down
        places = [seen.name for seen in runs_on(s, check_id)] or ["centre"]
        summary = (f"check {check_slug} runs at {', '.join(places)}; down when {k} of "
                   f"{len(places)} see it down")
        record(s, CLI_ACTOR, "probe.assign", "check", check_id, summary=summary)
    click.echo(summary)


@probe.command("list")
@friendly_errors
def probe_list() -> None:
    """Every probe: site, name, state, version, last contact, last sequence stored."""
    from sqlalchemy import select

    from dutydesk.sites.models import Probe, Site

    db = _database(_settings())
    with db.session() as s:
        rows = s.execute(select(Site.slug, Probe).join(Probe, Probe.site_id == Site.id)
                         .order_by(Site.slug, Probe.name)).all()
        for slug, p in rows:
            state = ("revoked" if p.revoked_at else "enrolled" if p.credential_hash
                     else "awaiting enrolment")
            contact = p.last_contact_at.isoformat(timespec="seconds") if p.last_contact_at else "-"
            click.echo(f"{slug}\t{p.name}\t{state}\t{p.version or '-'}\t{contact}\t"
                       f"seq={p.last_seq}\tbuffer={p.buffer_depth}\tdropped={p.dropped_total}")
