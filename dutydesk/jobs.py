"""Every periodic job of every area, assembled in one readable place (the shell).

Each domain owns its jobs and returns ``dutydesk.core.jobs.Job`` values from its own ``jobs``
module; this module only lists the areas of a deployment and wires what crosses areas (the
outbox sender, a core service, records its attempts on the incidents' timelines). The worker adds
the jobs to APScheduler.
"""

from __future__ import annotations

import functools
import logging
import threading
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.jobs import Job

__all__ = ["Job", "handoff_sections", "mail_handlers", "mail_intake_jobs", "scheduled_jobs"]


def handoff_sections() -> tuple[Any, ...]:
    """What the incidents and requests areas add to a shift handoff report (the shifts area
    imports neither: the shell hands it these functions)."""
    from dutydesk.incidents.handoff import HANDOFF_SECTIONS as INCIDENTS
    from dutydesk.requests.handoff import HANDOFF_SECTIONS as REQUESTS

    return (*INCIDENTS, *REQUESTS)

def mail_handlers(settings: Settings) -> list[Any]:
    """What the intake mailbox's mail is offered to, in order: the first handler that consumes
    a mail wins (``handler(session, mail, now) -> bool``), so a new request comes last. A
    handler for replies to pages (``dutydesk.incidents``) goes before the requests."""
    from dutydesk.requests.intake import handle_request_mail

    return [functools.partial(page_reply_mail, settings=settings),
            functools.partial(handle_request_mail, settings=settings)]


def page_reply_mail(session: Any, mail: Any, now: datetime, *, settings: Settings) -> bool:
    """A reply to a page ("ack", "resolve: ...", "esc") acts on its incident
    (``dutydesk.incidents.replies``); the incident's linked requests are resolved with it."""
    from email import message_from_bytes, policy

    from dutydesk.incidents.replies import handle_page_reply
    from dutydesk.requests.service import resolve_linked

    if not mail.raw:
        return False
    message = message_from_bytes(mail.raw, policy=policy.default)
    return handle_page_reply(session, settings, message, now,  # type: ignore[arg-type]
                             after_resolve=resolve_linked)


def mail_intake_config(settings: Settings) -> Any:
    """The intake mailbox's IMAP settings (``dutydesk.core.mailin.imap.ImapConfig``)."""
    from dutydesk.core.mailin.imap import ImapConfig

    return ImapConfig(
        host=settings.imap_host, port=settings.imap_port, security=settings.imap_security,
        username=settings.imap_username, password=settings.imap_password,
        ca_file=settings.imap_ca_file, folder=settings.imap_folder,
        done_folder=settings.imap_done_folder, failed_folder=settings.imap_failed_folder,
        max_bytes=settings.imap_max_mb * 1024 * 1024)


def mail_intake_jobs(settings: Settings, db: Database) -> list[Job]:
    """Poll the intake mailbox (when ``DUTYDESK_IMAP_HOST`` is set)."""
    if not settings.imap_host:
        return []
    from dutydesk.core.db import utcnow
    from dutydesk.core.mailin.imap import MailboxUnavailable, poll_once

    config = mail_intake_config(settings)
    handlers = mail_handlers(settings)
    own = (settings.smtp_from, settings.imap_username)
    stopping = threading.Event()  # set on worker stop: an IDLE wait ends within a second

    def poll() -> None:
        try:
            # IDLE until shortly before the next run: new mail is taken in as it arrives
            result = poll_once(db, config, handlers, utcnow, own,
                               idle_seconds=max(0, settings.imap_poll_seconds - 5),
                               stop=stopping)
        except MailboxUnavailable as exc:  # the mail waits on the server; next poll tries
            log.warning("intake mailbox unavailable: %s", exc)
            return
        if result.outcomes:
            log.info("intake mailbox: %d mails (%d handled, %d ignored, %d repeats, "
                     "%d failed)", len(result.outcomes), result.count("handled"),
                     result.count("ignored"), result.count("duplicate"),
                     result.count("failed"))

    return [Job(id="mail-intake", name=f"read the intake mailbox {config.describe()}",
                func=poll, trigger_args={"seconds": settings.imap_poll_seconds},
                on_start=stopping.clear, on_stop=stopping.set)]


log = logging.getLogger("dutydesk.jobs")
#: Seconds the sender's in-flight deliveries get to finish on shutdown (the worker must stop
#: within 10 s); whatever is still running then is handed back to the other workers.
SENDER_STOP_GRACE = 5.0


def scheduled_jobs(
    settings: Settings, db: Database, registry: CollectorRegistry | None = None
) -> list[Job]:
    """All jobs for this deployment.

    ``registry``: where the worker's metrics go (the check engine's families and
    ``dutydesk_alerts_suppressed_total`` of the flips this process runs through the pipeline);
    None keeps them unexposed.
    """
    from checks.jobs import check_jobs
    from dutydesk.core.notify.dispatcher import Dispatcher
    from dutydesk.facility.jobs import facility_jobs
    from dutydesk.incidents.chat.jobs import chat_jobs
    from dutydesk.incidents.jobs import incident_jobs
    from dutydesk.incidents.notify_timeline import record_notification_attempt
    from dutydesk.incidents.pipeline import metrics_for
    from dutydesk.incidents.recipients import disable_contact
    from dutydesk.requests.jobs import request_jobs
    from dutydesk.web.directory_sync import directory_jobs
    from shifts.jobs import shift_jobs
    from shifts.notices.jobs import notice_jobs
    from shifts.visitors.jobs import visitor_jobs

    sender = Dispatcher(
        db,
        settings,
        disablers={"contact": disable_contact},
        on_recorded=record_notification_attempt,  # incident timeline entries
    )

    def keep_sender_running() -> None:
        # started by on_start; a crashed loop is started again, a stopped one is left alone
        if sender.crashed:
            log.error("the notification sender was not running; starting it again")
            sender.start()

    jobs: list[Job] = [
        Job(
            id="outbox",
            name="deliver notifications (concurrent sender, watched every 10 s)",
            func=keep_sender_running,
            trigger_args={"seconds": 10},
            on_start=sender.start,
            # graceful: in-flight deliveries get a few seconds, every other lease is handed back
            on_stop=lambda: sender.stop(grace=SENDER_STOP_GRACE),
            # every worker runs its own sender; messages are leased one by one (the outbox)
            one_runner=False,
        ),
        # the flip job counts what it mutes on the same metrics the web views use
        *incident_jobs(settings, db, metrics_for(registry) if registry is not None else None),
        *notice_jobs(settings, db),
    ]
    jobs.extend(request_jobs(settings, db))
    from dutydesk.sites.jobs import site_jobs

    # remote probes: one "probe offline" incident per silent probe, its checks UNKNOWN
    jobs.extend(site_jobs(settings, db, metrics_for(registry) if registry is not None else None))
    jobs.extend(chat_jobs(settings, db))  # the Telegram bot hears button presses
    jobs.extend(mail_intake_jobs(settings, db))  # mail to requests (and page replies)
    jobs.extend(visitor_jobs(settings, db))
    jobs.extend(shift_jobs(settings, db, handoff_sections()))
    jobs.extend(check_jobs(db, registry, settings))
    jobs.extend(directory_jobs(settings, db))  # LDAP/AD: access taken away within the hour
    # SNMP traps and syslog: listeners started/stopped with the worker, alerts into the pipeline
    jobs.extend(facility_jobs(settings, db, registry,
                              metrics_for(registry) if registry is not None else None))
    return jobs
