"""The probe's side of forwarding traps and syslog: its event buffer numbers, bounds and renumbers
what it heard; its SNMP credentials come from the command line and a private file; a replay's
order survives the centre's folding (pure decisions, table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dutydesk.cli import main
from dutydesk.facility.decide import SyslogMessage
from dutydesk.facility.forward import ForwardingReceiver, InputsError, load_snmp_settings
from dutydesk.facility.remote import fold, segments
from dutydesk.facility.rules import SnmpSettings
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus
from dutydesk.sites.agent_inputs import EventBuffer

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _buffer(tmp_path: Path, **bounds: Any) -> EventBuffer:
    return EventBuffer(str(tmp_path / "probe.sqlite"),
                       **{"max_events": 1000, "max_age": 3600.0, **bounds})


def test_events_are_numbered_in_the_order_heard_and_forgotten_once_acknowledged(
        tmp_path: Path) -> None:
    buffer = _buffer(tmp_path)
    buffer.add_many([(1.0, {"n": 1}), (2.0, {"n": 2}), (3.0, {"n": 3})], now=3.0)
    assert [(seq, e["n"]) for seq, _at, e in buffer.oldest(10)] == [(1, 1), (2, 2), (3, 3)]
    assert buffer.ack(2) == 2 and buffer.depth() == 1
    buffer.add_many([(4.0, {"n": 4})], now=4.0)
    assert [seq for seq, _a, _e in buffer.oldest(10)] == [3, 4]  # numbers never reused


def test_a_full_buffer_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    buffer = _buffer(tmp_path, max_events=3, max_age=100.0)
    buffer.add_many([(float(i), {"n": i}) for i in range(5)], now=5.0)
    assert [e["n"] for _s, _a, e in buffer.oldest(10)] == [2, 3, 4] and buffer.dropped == 2
    buffer.add_many([(200.0, {"n": 9})], now=200.0)  # the others are now older than max_age
    assert [e["n"] for _s, _a, e in buffer.oldest(10)] == [9] and buffer.dropped == 5


def test_a_new_buffer_file_numbers_what_it_heard_above_what_the_centre_stored(
        tmp_path: Path) -> None:
    buffer = _buffer(tmp_path)  # (the old file was lost; the centre stored up to 40)
    buffer.add_many([(1.0, {"n": 1}), (2.0, {"n": 2})], now=2.0)
    assert buffer.sync(40) == 2
    buffer.add_many([(3.0, {"n": 3})], now=3.0)
    assert [(seq, e["n"]) for seq, _a, e in buffer.oldest(10)] == [(41, 1), (42, 2), (43, 3)]
    # once it has talked to the centre, its numbers are its own: unacknowledged ones at or
    # below the centre's number are replays, never renumbered
    assert buffer.sync(42) == 0
    assert [seq for seq, _a, _e in buffer.oldest(10)] == [41, 42, 43]


def test_snmp_credentials_come_from_the_command_line_and_a_private_file(
        tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("communities: [extra]\nusers:\n  - {name: ups, auth_protocol: SHA, "
                     "auth_key: authpass123, priv_protocol: AES, priv_key: privpass123}\n")
    users.chmod(0o640)
    settings = load_snmp_settings(["public"], str(users))
    assert settings.communities == ("public", "extra")
    assert [(u.name, u.auth_protocol, u.priv_protocol) for u in settings.users] == [
        ("ups", "SHA", "AES")]
    users.chmod(0o644)
    with pytest.raises(InputsError, match=r"readable by everyone.*chmod 600"):
        load_snmp_settings([], str(users))


@pytest.mark.parametrize(("text", "says"), [
    ("users: [{name: ups, auth_protocol: SHA, auth_key: short}]", "at least 8 characters"),
    ("sources: [10.0.0.0/8]", "'communities' and 'users' only"),
    ("users: [", "not valid YAML"),
])
def test_a_bad_users_file_is_refused_with_what_is_wrong_and_no_secret(
        tmp_path: Path, text: str, says: str) -> None:
    users = tmp_path / "users.yaml"
    users.write_text(text)
    users.chmod(0o600)
    with pytest.raises(InputsError, match=says) as refused:
        load_snmp_settings([], str(users))
    assert "short" not in str(refused.value)


def test_the_forwarding_receiver_turns_what_it_hears_into_neutral_events() -> None:
    sent: list[dict[str, Any]] = []
    receiver = ForwardingReceiver("syslog", SnmpSettings(), "/tmp", rate_limit=2)
    receiver.emit = sent.append
    receiver.put(SyslogMessage(source="10.20.0.9", host="pdu-3", facility="local0",
                               level="err", text="breaker 3 tripped", app="pdu"))
    receiver.reject("-", "listener", "cannot listen: port taken")  # its own trouble: not sent
    assert [receiver.admit("10.20.0.7") for _ in range(4)] == [True, True, False, False]
    receiver.drain_floods()
    assert [(e["kind"], e["source"]) for e in sent] == [("message", "10.20.0.9"),
                                                       ("flood", "10.20.0.7")]
    assert sent[0]["text"] == "breaker 3 tripped" and sent[0]["facility"] == "local0"
    assert sent[1]["dropped"] == 2 and sent[1]["ongoing"] and sent[1]["limit"] == 2


def _alert(key: str, firing: bool) -> Alert:
    return Alert(source=AlertSource.SNMP_TRAP, dedup_key=key, summary=key,
                 status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED, starts_at=T0)


@pytest.mark.parametrize(("heard", "expected"), [
    # one UPS on battery, twice, then back: fire (folded, count 2) and clear stay apart
    ([(0, "ups", True), (1, "ups", True), (2, "ups", False)], [["ups:2"], ["ups-"]]),
    # two keys interleaved, none changing status: one segment
    ([(0, "a", True), (0, "b", True), (1, "a", True)], [["b", "a:2"]]),
    # an hour-long replay of one key firing: cut every second, each with its own time
    ([(0, "a", True), (5, "a", True)], [["a"], ["a"]]),
    # fire, clear, fire again within a second: three segments, the last state wins in order
    ([(0, "a", True), (0, "a", False), (0, "a", True)], [["a"], ["a-"], ["a"]]),
])
def test_a_replay_is_cut_where_a_problem_changes_so_no_change_is_folded_away(
        heard: list[tuple[int, str, bool]], expected: list[list[str]]) -> None:
    items = [(T0 + timedelta(seconds=s), _alert(k, f)) for s, k, f in heard]
    shown = [[a.dedup_key + ("" if a.status is AlertStatus.FIRING else "-")
              + (f":{a.details['count']}" if "count" in a.details else "") for a in fold(seg)]
             for seg in segments(items)]
    assert shown == expected


@pytest.mark.parametrize(("args", "says"), [
    (["--trap-listen", "127.0.0.1:1162"], "needs a community"),
    (["--trap-listen", "nonsense", "--snmp-community", "c"], "expected host:port"),
    (["--syslog-listen", "127.0.0.1:99999"], "expected host:port"),
    (["--trap-listen", "127.0.0.1:1162", "--snmp-users", "/nonexistent/users.yaml"],
     "cannot read the SNMP users file"),
])
def test_bad_listen_options_stop_the_probe_with_a_message(
        tmp_path: Path, args: list[str], says: str) -> None:
    result = CliRunner().invoke(main, ["probe", "--server", "http://127.0.0.1:9", "--site", "x",
                                       "--state-dir", str(tmp_path / "p"), *args],
                                env={"DUTYDESK_CONFIG": ""}, prog_name="dutydesk")
    assert result.exit_code == 2 and says in result.output, result.output
