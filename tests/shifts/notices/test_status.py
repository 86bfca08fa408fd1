"""What employees see: a service's effective status, the page indicator and the top sentence."""

from datetime import UTC, datetime, timedelta

import pytest

from checks.result import Status as C
from shifts.notices.model import (
    AffectedService,
    Impact,
    MaintenanceWindow,
    Notice,
    NoticeKind,
    Service,
    ServiceStatus,
    add_update,
    publish,
)
from shifts.notices.status import (
    Headline,
    effective_status,
    headline,
    page_state,
    service_statuses,
    status_from_checks,
)

S = ServiceStatus
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        pytest.param([], None, id="no-checks-say-nothing"),
        pytest.param([C.UNKNOWN, C.UNKNOWN], None, id="blind-monitoring-says-nothing"),
        pytest.param([C.OK, C.OK], S.OPERATIONAL, id="all-ok"),
        pytest.param([C.OK, C.UNKNOWN], S.OPERATIONAL, id="unknown-ignored"),
        pytest.param([C.OK, C.WARNING], S.DEGRADED_PERFORMANCE, id="a-warning"),
        pytest.param([C.CRITICAL, C.OK], S.PARTIAL_OUTAGE, id="one-of-two-critical"),
        pytest.param([C.CRITICAL, C.WARNING], S.PARTIAL_OUTAGE, id="critical-and-warning"),
        pytest.param([C.CRITICAL, C.CRITICAL], S.MAJOR_OUTAGE, id="all-critical"),
        pytest.param([C.CRITICAL, C.UNKNOWN], S.MAJOR_OUTAGE, id="all-known-critical"),
    ],
)
def test_linked_checks_map_to_a_service_status(states, expected):
    assert status_from_checks(states) is expected


AUTO = Service("mail", "Mail", mode="auto", check_ids=("smtp",), status=S.DEGRADED_PERFORMANCE)
MANUAL = Service("mail", "Mail", mode="manual", check_ids=("smtp",), status=S.PARTIAL_OUTAGE)


@pytest.mark.parametrize(
    ("service", "checks", "maintenance", "impacts", "expected"),
    [
        pytest.param(AUTO, [C.OK], False, [], S.OPERATIONAL, id="auto-follows-green-check"),
        pytest.param(AUTO, [C.CRITICAL], False, [], S.MAJOR_OUTAGE, id="auto-follows-red-check"),
        pytest.param(AUTO, [], False, [], S.DEGRADED_PERFORMANCE,
                     id="auto-without-check-data-keeps-person-status"),
        pytest.param(AUTO, [C.UNKNOWN], False, [], S.DEGRADED_PERFORMANCE,
                     id="auto-with-unknown-check-keeps-person-status"),
        pytest.param(MANUAL, [C.OK], False, [], S.PARTIAL_OUTAGE, id="manual-ignores-checks"),
        pytest.param(AUTO, [C.CRITICAL], True, [], S.UNDER_MAINTENANCE,
                     id="red-check-during-maintenance-is-expected"),
        pytest.param(MANUAL, [], True, [], S.UNDER_MAINTENANCE, id="maintenance-over-manual"),
        pytest.param(AUTO, [C.OK], False, [S.MAJOR_OUTAGE], S.MAJOR_OUTAGE,
                     id="published-outage-beats-green-check"),
        pytest.param(AUTO, [C.CRITICAL], False, [S.DEGRADED_PERFORMANCE], S.MAJOR_OUTAGE,
                     id="worse-check-beats-milder-notice"),
        pytest.param(AUTO, [C.OK], True, [S.PARTIAL_OUTAGE], S.PARTIAL_OUTAGE,
                     id="outage-during-maintenance-beats-maintenance"),
        pytest.param(AUTO, [C.OK], False, [S.OPERATIONAL], S.OPERATIONAL,
                     id="informational-notice"),
    ],
)
def test_effective_status_precedence(service, checks, maintenance, impacts, expected):
    got = effective_status(service, checks, under_maintenance=maintenance, notice_impacts=impacts)
    assert got is expected


def _incident(nid, service_id, impact, *, published=True, resolved=False, level=Impact.MAJOR):
    n = Notice(nid, f"{service_id} trouble", NoticeKind.INCIDENT, level,
               (AffectedService(service_id, impact),))
    n = add_update(n, "investigating", "Looking into it.", "olena", NOW - timedelta(hours=1))
    if published:
        n = publish(n, NOW - timedelta(hours=1))
    if resolved:
        n = add_update(n, "resolved", "Fixed.", "olena", NOW - timedelta(minutes=30))
    return n


def _maintenance(service_id, start, end):
    n = Notice("m-" + service_id, "Planned work", NoticeKind.MAINTENANCE,
               affected=(AffectedService(service_id, S.UNDER_MAINTENANCE),),
               window=MaintenanceWindow(start, end))
    n = add_update(n, "scheduled", "Planned.", "olena", NOW - timedelta(days=1))
    return publish(n, NOW - timedelta(days=1))


def test_service_statuses_combine_checks_maintenance_and_published_notices():
    services = [
        Service("mail", "Mail", mode="auto", check_ids=("smtp", "imap")),
        Service("vpn", "VPN", mode="auto", check_ids=("vpn-gw",)),
        Service("1c", "1C"),
        Service("files", "File share"),
        Service("phone", "Telephony"),
        Service("web", "Intranet", mode="auto", check_ids=("gone",)),
    ]
    notices = [
        _incident("n1", "files", S.PARTIAL_OUTAGE),
        _incident("n2", "phone", S.MAJOR_OUTAGE, published=False),   # a draft shows nothing
        _incident("n3", "mail", S.MAJOR_OUTAGE, resolved=True),      # resolved shows nothing
        # The window started an hour ago; the worker has not stored in_progress yet.
        _maintenance("1c", NOW - timedelta(hours=1), NOW + timedelta(hours=1)),
        _maintenance("vpn", NOW + timedelta(hours=1), NOW + timedelta(hours=2)),  # not yet
    ]
    checks = {"smtp": C.OK, "imap": C.CRITICAL, "vpn-gw": C.OK}
    assert service_statuses(services, checks, notices, NOW) == {
        "mail": S.PARTIAL_OUTAGE,
        "vpn": S.OPERATIONAL,
        "1c": S.UNDER_MAINTENANCE,
        "files": S.PARTIAL_OUTAGE,
        "phone": S.OPERATIONAL,
        "web": S.OPERATIONAL,  # its only check is missing: unknown, so the person's status
    }


@pytest.mark.parametrize(
    ("statuses", "notices", "indicator", "description"),
    [
        pytest.param([S.OPERATIONAL], [], "none", "All Systems Operational", id="all-fine"),
        pytest.param([], [], "none", "All Systems Operational", id="no-services"),
        pytest.param([S.OPERATIONAL, S.DEGRADED_PERFORMANCE], [], "minor",
                     "Minor Service Outage", id="degraded"),
        pytest.param([S.PARTIAL_OUTAGE, S.DEGRADED_PERFORMANCE], [], "major",
                     "Partial System Outage", id="partial"),
        pytest.param([S.MAJOR_OUTAGE, S.UNDER_MAINTENANCE], [], "critical",
                     "Major Service Outage", id="major-beats-maintenance"),
        pytest.param([S.UNDER_MAINTENANCE, S.OPERATIONAL], [], "maintenance",
                     "Service Under Maintenance", id="only-maintenance"),
        pytest.param([S.OPERATIONAL], [_incident("n", "x", S.OPERATIONAL, level=Impact.CRITICAL)],
                     "critical", "Major Service Outage", id="unresolved-critical-notice"),
        pytest.param([S.OPERATIONAL],
                     [_incident("n", "x", S.OPERATIONAL, level=Impact.CRITICAL, resolved=True)],
                     "none", "All Systems Operational", id="resolved-notice-ignored"),
        pytest.param([S.OPERATIONAL],
                     [_incident("n", "x", S.OPERATIONAL, level=Impact.CRITICAL, published=False)],
                     "none", "All Systems Operational", id="draft-ignored"),
    ],
)
def test_page_indicator_is_the_worst_of_services_and_open_notices(
        statuses, notices, indicator, description):
    state = page_state(statuses, notices)
    assert (state.indicator, state.description) == (indicator, description)


PAGE = [Service("mail", "Mail"), Service("vpn", "VPN"), Service("1c", "1C"),
        Service("files", "File share"), Service("phone", "Telephony")]


@pytest.mark.parametrize(
    ("statuses", "sentence"),
    [
        pytest.param({}, "All systems operational", id="all-fine"),
        pytest.param({"mail": S.PARTIAL_OUTAGE, "vpn": S.PARTIAL_OUTAGE},
                     "Partial outage: Mail, VPN", id="two-partial"),
        pytest.param({"1c": S.UNDER_MAINTENANCE}, "Scheduled maintenance in progress: 1C",
                     id="maintenance"),
        pytest.param({"vpn": S.MAJOR_OUTAGE, "mail": S.DEGRADED_PERFORMANCE},
                     "Major outage: VPN; also affected: Mail", id="worst-first-then-others"),
        pytest.param({"phone": S.DEGRADED_PERFORMANCE}, "Degraded performance: Telephony",
                     id="degraded"),
        pytest.param({"1c": S.UNDER_MAINTENANCE, "files": S.DEGRADED_PERFORMANCE},
                     "Degraded performance: File share; also affected: 1C",
                     id="trouble-outranks-maintenance"),
    ],
)
def test_headline_names_the_worst_trouble_in_page_order(statuses, sentence):
    assert headline(PAGE, statuses).render() == sentence


def test_headline_counts_services_when_too_many_to_name():
    many = {s.id: S.MAJOR_OUTAGE for s in PAGE}
    h = headline(PAGE, many, max_names=3)
    assert h.render() == "Major outage: 5 services"
    one = headline(PAGE[:1], {"mail": S.MAJOR_OUTAGE}, max_names=1)
    assert one.render() == "Major outage: Mail"


def test_headline_leaves_out_others_that_do_not_fit():
    statuses = {"mail": S.MAJOR_OUTAGE, "vpn": S.PARTIAL_OUTAGE, "1c": S.PARTIAL_OUTAGE}
    assert headline(PAGE, statuses, max_names=2).render() == "Major outage: Mail"


RU = {
    "All systems operational": "Все системы работают",
    "Partial outage: %(services)s": "Частичный сбой: %(services)s",
}
RU_PLURAL = {  # Russian has three plural forms; this stub knows the "many" one.
    "Major outage: %(num)d service": ("", "", "Серьёзный сбой: %(num)d сервисов"),
}


def ru_gettext(message, **variables):
    """A stand-in for Flask-Babel's gettext: translate, then fill in the variables."""
    text = RU.get(message, message)
    return text % variables if variables else text


def ru_ngettext(singular, plural, num, **variables):
    """A stand-in for Flask-Babel's ngettext: it adds ``num`` to the variables itself."""
    variables.setdefault("num", num)
    form = 0 if num % 10 == 1 and num % 100 != 11 else 2  # enough for these cases
    return RU_PLURAL.get(singular, (singular, "", plural))[form] % variables


@pytest.mark.parametrize(
    ("statuses", "sentence"),
    [
        pytest.param({}, "Все системы работают", id="plain"),
        pytest.param({"mail": S.PARTIAL_OUTAGE}, "Частичный сбой: Mail", id="with-names"),
        pytest.param({s.id: S.MAJOR_OUTAGE for s in PAGE}, "Серьёзный сбой: 5 сервисов",
                     id="counted"),
    ],
)
def test_headline_translates_through_gettext(statuses, sentence):
    h = headline(PAGE, statuses, max_names=4)
    assert h.render(ru_gettext, ru_ngettext) == sentence


def test_counted_headline_uses_the_number_flask_babel_passes_as_num():
    h = headline(PAGE, {s.id: S.PARTIAL_OUTAGE for s in PAGE}, max_names=2)
    assert (h.msgid, h.plural, h.n) == ("Partial outage: %(num)d service",
                                        "Partial outage: %(num)d services", 5)
    assert h.render() == "Partial outage: 5 services"


def test_a_service_name_with_a_percent_sign_is_shown_as_is():
    named = [Service(id="up", name="100% uptime", status=S.MAJOR_OUTAGE)]
    assert headline(named, {}).render() == "Major outage: 100% uptime"


def test_headline_carries_the_worst_level_for_the_banner_colour():
    h = headline(PAGE, {"mail": S.DEGRADED_PERFORMANCE, "vpn": S.MAJOR_OUTAGE})
    assert isinstance(h, Headline) and h.level is S.MAJOR_OUTAGE
    assert headline(PAGE, {}).level is S.OPERATIONAL
