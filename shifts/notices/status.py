"""What each service's state is right now, and what the page says at the top.

Effective status of one service (:func:`effective_status`), by precedence:

1. **Base status.** In ``manual`` mode: the status a person set. In ``auto`` mode: derived from
   the linked checks' current (hard) states, see :func:`status_from_checks`; when the service has
   no linked checks, or every linked check is UNKNOWN, the person's status is used instead —
   blind monitoring must not announce an outage.
2. **Active maintenance** replaces the base status with ``under_maintenance``: checks going red
   during planned work are expected, and the employees already know about it.
3. **Published, unresolved incident notices** that affect the service: the worst of their
   impacts and the status from 1–2 wins ("worst wins", by :attr:`ServiceStatus.severity`). A
   person who tells employees "Mail is down" must not be contradicted by a green check, and an
   outage reported during maintenance is worse than the maintenance.

Translatable sentences: :func:`headline` returns a :class:`Headline` (a :class:`Message`)
holding an English gettext message id with ``%(name)s`` placeholders plus its parameters; the
template layer does ``headline.render(gettext, ngettext)`` with Flask-Babel's functions. Message
ids are marked with ``N_``, and singular/plural pairs with ``NP_``, so ``pybabel extract -k N_
-k NP_:1,2`` finds them (a pair as one plural entry, which Russian and Ukrainian fill in with
their three forms). Counted sentences use ``%(num)d``, the variable Flask-Babel's ``ngettext``
supplies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from checks.result import Status as CheckStatus

from .maintenance import services_under_maintenance
from .model import Impact, Notice, NoticeKind, Service, ServiceStatus, StatusMode, require_aware


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it here (gettext_noop)."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a singular/plural pair for extraction as one plural message (ngettext_noop)."""
    return singular, plural


def _english_gettext(message: str, **variables: str | int) -> str:
    return message % variables if variables else message


def _english_ngettext(singular: str, plural: str, num: int, **variables: str | int) -> str:
    variables.setdefault("num", num)
    return (singular if num == 1 else plural) % variables


# --------------------------------------------------------------------------------------------
# One service


def status_from_checks(states: Iterable[CheckStatus]) -> ServiceStatus | None:
    """Map linked checks' states to a service status; ``None`` when they say nothing.

    UNKNOWN checks are ignored. Of the rest: all OK → operational; every one CRITICAL → major
    outage; some CRITICAL → partial outage; otherwise any WARNING → degraded performance.
    """
    known = [s for s in states if s is not CheckStatus.UNKNOWN]
    if not known:
        return None
    critical = sum(1 for s in known if s is CheckStatus.CRITICAL)
    if critical == len(known):
        return ServiceStatus.MAJOR_OUTAGE
    if critical:
        return ServiceStatus.PARTIAL_OUTAGE
    if any(s is CheckStatus.WARNING for s in known):
        return ServiceStatus.DEGRADED_PERFORMANCE
    return ServiceStatus.OPERATIONAL


def effective_status(
    service: Service,
    check_states: Iterable[CheckStatus] = (),
    *,
    under_maintenance: bool = False,
    notice_impacts: Iterable[ServiceStatus] = (),
) -> ServiceStatus:
    """The status employees see for ``service`` (precedence in the module docstring).

    ``check_states`` are the current states of the service's linked checks (only used in
    ``auto`` mode); ``notice_impacts`` the impacts of published unresolved incident notices
    affecting it.
    """
    base = service.status
    if service.mode is StatusMode.AUTO:
        base = status_from_checks(check_states) or service.status
    if under_maintenance:
        base = ServiceStatus.UNDER_MAINTENANCE
    return max((base, *notice_impacts), key=lambda s: s.severity)


def service_statuses(
    services: Iterable[Service],
    check_states: Mapping[str, CheckStatus],
    notices: Iterable[Notice],
    now: datetime,
) -> dict[str, ServiceStatus]:
    """Effective status of every service, by service id.

    ``check_states`` maps check id → current state; a linked check missing from it counts as
    UNKNOWN. Maintenance comes from published maintenance notices active at ``now``; incident
    impacts from published, unresolved incident notices.
    """
    require_aware("now", now)
    notices = list(notices)
    in_maintenance = services_under_maintenance(notices, now)
    impacts: dict[str, list[ServiceStatus]] = {}
    for n in notices:
        if n.kind is NoticeKind.INCIDENT and n.is_published and not n.is_closed:
            for a in n.affected:
                impacts.setdefault(a.service_id, []).append(a.impact)
    return {
        s.id: effective_status(
            s,
            (check_states.get(c, CheckStatus.UNKNOWN) for c in s.check_ids),
            under_maintenance=s.id in in_maintenance,
            notice_impacts=impacts.get(s.id, ()),
        )
        for s in services
    }


# --------------------------------------------------------------------------------------------
# The whole page


@dataclass(frozen=True, slots=True)
class PageState:
    """Statuspage's ``status`` object: ``indicator`` and an English ``description``.

    ``indicator`` is none/minor/major/critical, or ``maintenance`` when the only thing going on
    is planned work (as Statuspage itself reports it).
    """

    indicator: str
    description: str


_INDICATOR_BY_SERVICE_STATUS = {
    ServiceStatus.OPERATIONAL: Impact.NONE,
    ServiceStatus.UNDER_MAINTENANCE: Impact.NONE,
    ServiceStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ServiceStatus.PARTIAL_OUTAGE: Impact.MAJOR,
    ServiceStatus.MAJOR_OUTAGE: Impact.CRITICAL,
}
PAGE_DESCRIPTIONS = {
    "none": N_("All Systems Operational"),
    "minor": N_("Minor Service Outage"),
    "major": N_("Partial System Outage"),
    "critical": N_("Major Service Outage"),
    "maintenance": N_("Service Under Maintenance"),
}


def page_state(statuses: Iterable[ServiceStatus], notices: Iterable[Notice] = ()) -> PageState:
    """Overall indicator: the worst of the services' statuses and of the impacts of published,
    unresolved incident notices (degraded → minor, partial → major, major outage → critical)."""
    statuses = list(statuses)
    worst = max((_INDICATOR_BY_SERVICE_STATUS[s] for s in statuses), key=lambda i: i.rank,
                default=Impact.NONE)
    for n in notices:
        if n.kind is NoticeKind.INCIDENT and n.is_published and not n.is_closed:
            worst = max(worst, n.impact, key=lambda i: i.rank)
    indicator = worst.value
    if worst is Impact.NONE and ServiceStatus.UNDER_MAINTENANCE in statuses:
        indicator = "maintenance"
    return PageState(indicator, PAGE_DESCRIPTIONS[indicator])


@dataclass(frozen=True, slots=True)
class Message:
    """A sentence still untranslated: an English gettext id plus its parameters.

    ``msgid`` has ``%(name)s`` placeholders filled from ``params``. When ``plural`` is set the
    sentence is counted by ``n``: its ids may use ``%(num)d`` for the number.
    """

    msgid: str
    params: Mapping[str, str | int] = field(default_factory=dict)
    plural: str | None = None
    n: int = 0

    def render(self, gettext: Callable[..., str] = _english_gettext,
               ngettext: Callable[..., str] = _english_ngettext) -> str:
        """The sentence in the language of the given functions (English by default).

        Both follow Flask-Babel's API: ``gettext(msgid, **variables)`` and
        ``ngettext(singular, plural, num, **variables)`` translate, pick the plural form for
        ``num`` and fill the placeholders themselves (``ngettext`` adds ``num`` to the
        variables).
        """
        if self.plural is not None:
            return ngettext(self.msgid, self.plural, self.n, **self.params)
        return gettext(self.msgid, **self.params)


@dataclass(frozen=True, slots=True)
class Headline(Message):
    """The one sentence at the top of the page; ``level`` is the worst service status it is
    about (to colour the banner)."""

    level: ServiceStatus = ServiceStatus.OPERATIONAL


ALL_OPERATIONAL = N_("All systems operational")
#: Sentence per worst status: (services named, services named + others, too many to name).
HEADLINE_MESSAGES: dict[ServiceStatus, tuple[str, str, tuple[str, str]]] = {
    ServiceStatus.MAJOR_OUTAGE: (
        N_("Major outage: %(services)s"),
        N_("Major outage: %(services)s; also affected: %(others)s"),
        NP_("Major outage: %(num)d service", "Major outage: %(num)d services"),
    ),
    ServiceStatus.PARTIAL_OUTAGE: (
        N_("Partial outage: %(services)s"),
        N_("Partial outage: %(services)s; also affected: %(others)s"),
        NP_("Partial outage: %(num)d service", "Partial outage: %(num)d services"),
    ),
    ServiceStatus.DEGRADED_PERFORMANCE: (
        N_("Degraded performance: %(services)s"),
        N_("Degraded performance: %(services)s; also affected: %(others)s"),
        NP_("Degraded performance: %(num)d service", "Degraded performance: %(num)d services"),
    ),
    ServiceStatus.UNDER_MAINTENANCE: (
        N_("Scheduled maintenance in progress: %(services)s"),
        N_("Scheduled maintenance in progress: %(services)s; also affected: %(others)s"),
        NP_("Scheduled maintenance in progress: %(num)d service",
            "Scheduled maintenance in progress: %(num)d services"),
    ),
}


def headline(services: Sequence[Service], statuses: Mapping[str, ServiceStatus],
             *, max_names: int = 5) -> Headline:
    """The sentence at the top: the worst status and the services in it, in page order.

    ``services`` come in page order; ``statuses`` are effective statuses by service id (a
    missing id counts as the service's own status). Other non-operational services are named
    after "also affected" while the total stays within ``max_names`` (else they are left out;
    the list below the sentence shows them). When more than ``max_names`` services share the
    worst status, the sentence counts them instead of naming them.
    """
    if max_names < 1:
        raise ValueError(f"max_names must be at least 1, got {max_names}")
    current = [(s, statuses.get(s.id, s.status)) for s in services]
    troubled = [(s, st) for s, st in current if st is not ServiceStatus.OPERATIONAL]
    if not troubled:
        return Headline(ALL_OPERATIONAL)
    worst = max((st for _, st in troubled), key=lambda st: st.severity)
    named = [s.name for s, st in troubled if st is worst]
    others = [s.name for s, st in troubled if st is not worst]
    named_only, with_others, (singular, plural) = HEADLINE_MESSAGES[worst]
    if len(named) > max_names:
        return Headline(singular, plural=plural, n=len(named), level=worst)
    if others and len(named) + len(others) <= max_names:
        return Headline(with_others, {"services": ", ".join(named), "others": ", ".join(others)},
                        level=worst)
    return Headline(named_only, {"services": ", ".join(named)}, level=worst)
