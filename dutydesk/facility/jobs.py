"""The facility inputs' work for the worker: each configured listener is a ``Job`` whose
``on_start``/``on_stop`` start and stop it; the periodic part reloads the applied rules (a new
``dutydesk facility apply`` reaches running listeners within seconds).

Listed by the shell in ``dutydesk.jobs.scheduled_jobs``. Nothing runs when no listen address is
configured (``DUTYDESK_SNMP_TRAP_LISTEN``, ``DUTYDESK_SYSLOG_LISTEN_UDP``/``_TCP``/``_TLS``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.jobs import Job
from dutydesk.facility.decide import decide_syslog, decide_trap
from dutydesk.facility.receiver import Receiver
from dutydesk.incidents.alerts.model import AlertSource
from dutydesk.incidents.pipeline import PipelineMetrics


def facility_jobs(
    settings: Settings,
    db: Database,
    registry: CollectorRegistry | None = None,
    pipeline_metrics: PipelineMetrics | None = None,
) -> list[Job]:
    jobs: list[Job] = []
    if settings.snmp_trap_listen:
        from dutydesk.facility.snmp import TrapListener, describe_trap, parse_listen

        receiver = Receiver(AlertSource.SNMP_TRAP, db, settings, decide_trap, describe_trap,
                            registry=registry, pipeline_metrics=pipeline_metrics)
        listener = TrapListener(*parse_listen(settings.snmp_trap_listen), receiver)
        jobs.append(Job(
            id="facility-snmp-traps",
            name=f"SNMP trap listener on {settings.snmp_trap_listen}",
            func=receiver.reload_rules,
            trigger_args={"seconds": 5},
            on_start=listener.start,
            on_stop=listener.stop,
            one_runner=False,  # every worker's own listener re-reads the rules
        ))
    if settings.syslog_listen_udp or settings.syslog_listen_tcp or settings.syslog_listen_tls:
        from dutydesk.facility.syslog import SyslogListener, describe_syslog

        receiver = Receiver(AlertSource.SYSLOG, db, settings, decide_syslog, describe_syslog,
                            registry=registry, pipeline_metrics=pipeline_metrics)
        syslog = SyslogListener(receiver, udp=settings.syslog_listen_udp,
                                tcp=settings.syslog_listen_tcp, tls=settings.syslog_listen_tls,
                                tls_cert=settings.syslog_tls_cert,
                                tls_key=settings.syslog_tls_key)
        jobs.append(Job(
            id="facility-syslog",
            name="syslog listener",
            func=receiver.reload_rules,
            trigger_args={"seconds": 5},
            on_start=syslog.start,
            on_stop=syslog.stop,
            one_runner=False,  # every worker's own listener re-reads the rules
        ))
    return jobs
