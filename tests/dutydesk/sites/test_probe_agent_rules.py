"""The probe's small rules: when to pull again, and how far the centre trails (push lag)."""

from __future__ import annotations

from dutydesk.sites.agent import Agent, AgentConfig, push_lag


def _pause(status: int, took: float, held: bool = False, interval: float = 10.0) -> float:
    agent = Agent.__new__(Agent)  # the rule needs only the configuration
    agent.config = AgentConfig(server="http://centre", site="s", pull_interval=interval)
    return agent._pull_pause(status, held, took)


def test_after_a_change_or_a_held_poll_the_probe_pulls_again_at_once() -> None:
    assert _pause(200, 0.05) == 0.0
    assert _pause(304, 25.0, held=True) == 0.0
    assert _pause(304, 1.5, held=True) == 0.0  # held for half a short grace only


def test_an_early_304_or_an_error_waits_out_the_pull_interval() -> None:
    assert _pause(304, 0.05) == 10.0 - 0.05  # "busy": the centre holds its limit, or no wait
    assert _pause(0, 3.0) == 7.0  # unreachable


def test_push_lag_grows_through_an_outage_and_is_zero_when_nothing_waits() -> None:
    assert push_lag(1000.0, 0, None, None) == 0.0
    # the centre acknowledged a result made at 400; results since 401 wait
    assert push_lag(1000.0, 60, 401.0, 400.0) == 600.0
    # nothing acknowledged since the start: as old as the oldest waiting result
    assert push_lag(1000.0, 5, 990.0, None) == 10.0
