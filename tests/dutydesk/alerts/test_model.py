"""The alert value object, the pipeline runner, dedup and the mute stage with its muters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dutydesk.incidents.alerts.model import (
    Alert,
    AlertError,
    AlertSource,
    AlertStatus,
    MaintenanceMuter,
    MaintenanceWindow,
    ParentDownMuter,
    PipelineContext,
    Severity,
    check_alert,
    dedup_stage,
    labels_fingerprint,
    mute_stage,
    run_pipeline,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_alert(key: str = "check:1", **overrides) -> Alert:
    values = {
        "source": AlertSource.CHECK,
        "dedup_key": key,
        "status": AlertStatus.FIRING,
        "starts_at": NOW,
        "summary": f"problem {key}",
    }
    values.update(overrides)
    return Alert(**values)


class TestAlertValidation:
    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            pytest.param({"dedup_key": ""}, "dedup_key must be a non-empty", id="empty-key"),
            pytest.param({"dedup_key": "x" * 256}, "at most 255", id="key-too-long"),
            pytest.param({"summary": "  "}, "summary must not be blank", id="blank-summary"),
            pytest.param({"summary": "s" * 1025}, "at most 1024", id="summary-too-long"),
            pytest.param(
                {"starts_at": datetime(2024, 5, 1, 12, 0)}, "timezone-aware", id="naive-start"
            ),
            pytest.param({"status": "open"}, "firing, resolved, got 'open'", id="bad-status"),
            pytest.param({"severity": "fatal"}, "critical, error, warning, info", id="bad-sev"),
            pytest.param({"source": "email"}, "check, alertmanager", id="bad-source"),
            pytest.param({"labels": {"a": 1}}, "map strings to strings", id="non-string-label"),
            pytest.param({"check_id": "7"}, "check_id must be an integer", id="check-id-str"),
        ],
    )
    def test_bad_values_are_refused_with_the_field_named(self, overrides, message):
        with pytest.raises(AlertError, match=message):
            make_alert(**overrides)

    def test_a_resolve_may_come_without_a_summary(self):
        alert = make_alert(status="resolved", summary="")
        assert alert.status is AlertStatus.RESOLVED and not alert.firing

    def test_times_are_normalised_to_utc_and_group_key_defaults_to_the_dedup_key(self):
        kyiv = timezone(timedelta(hours=3))
        alert = make_alert(starts_at=datetime(2024, 5, 1, 15, 0, tzinfo=kyiv))
        assert alert.starts_at == NOW and alert.starts_at.tzinfo is UTC
        assert alert.group_key == "check:1"

    def test_labels_cannot_be_changed_after_the_fact(self):
        source_labels = {"service": "mail"}
        alert = make_alert(labels=source_labels)
        source_labels["service"] = "web"
        assert alert.labels["service"] == "mail"
        with pytest.raises(TypeError):
            alert.labels["service"] = "dns"  # type: ignore[index]

    def test_event_time_of_a_resolve_is_its_end(self):
        ended = NOW + timedelta(minutes=5)
        assert make_alert(status="resolved", ends_at=ended).event_time == ended
        assert make_alert().event_time == NOW


class TestSeverityFromLabel:
    @pytest.mark.parametrize(
        ("label", "expected"),
        [
            pytest.param("critical", Severity.CRITICAL, id="critical"),
            pytest.param("PAGE", Severity.CRITICAL, id="page-any-case"),
            pytest.param("error", Severity.ERROR, id="error"),
            pytest.param("major", Severity.ERROR, id="major"),
            pytest.param("warning", Severity.WARNING, id="warning"),
            pytest.param(" warn ", Severity.WARNING, id="warn-with-spaces"),
            pytest.param("info", Severity.INFO, id="info"),
            pytest.param("none", Severity.INFO, id="none-means-info"),
            pytest.param("p3-whatever", Severity.WARNING, id="unknown-is-warning"),
            pytest.param(None, Severity.WARNING, id="missing-is-warning"),
        ],
    )
    def test_free_form_labels_map_to_a_severity(self, label, expected):
        assert Severity.from_label(label) is expected

    def test_severities_sort_worst_first(self):
        ordered = sorted(Severity, key=lambda s: s.rank, reverse=True)
        assert ordered == [Severity.CRITICAL, Severity.ERROR, Severity.WARNING, Severity.INFO]


class TestCheckAlert:
    @pytest.mark.parametrize(
        ("status", "alert_status", "severity"),
        [
            pytest.param("CRITICAL", AlertStatus.FIRING, Severity.CRITICAL, id="critical-fires"),
            pytest.param("WARNING", AlertStatus.FIRING, Severity.WARNING, id="warning-fires"),
            pytest.param("UNKNOWN", AlertStatus.FIRING, Severity.WARNING, id="unknown-fires"),
            pytest.param("OK", AlertStatus.RESOLVED, Severity.INFO, id="ok-resolves"),
        ],
    )
    def test_a_flip_becomes_an_alert_keyed_by_check(self, status, alert_status, severity):
        alert = check_alert(
            check_id=42,
            check_name="ups-a",
            status_name=status,
            message="on battery",
            at=NOW,
            service="power",
        )
        assert alert.dedup_key == "check:42"
        assert alert.status is alert_status and alert.severity is severity
        assert alert.labels["check"] == "ups-a" and alert.labels["service"] == "power"
        assert alert.group_key == "service:power"
        assert alert.summary == f"ups-a is {status}: on battery"
        assert alert.ends_at == (NOW if status == "OK" else None)

    def test_a_flip_reason_that_opens_with_the_status_is_not_repeated_in_the_title(self):
        alert = check_alert(
            check_id=7, check_name="UPS B", status_name="CRITICAL",
            message="CRITICAL (HARD, attempt 2/2): UPS B: ON BATTERY", at=NOW,
        )
        assert alert.summary == "UPS B is CRITICAL (HARD, attempt 2/2): UPS B: ON BATTERY"

    def test_an_unknown_check_status_is_refused(self):
        with pytest.raises(AlertError, match="OK, WARNING, CRITICAL or UNKNOWN, got 'DOWN'"):
            check_alert(check_id=1, check_name="x", status_name="DOWN", message="", at=NOW)


def test_labels_fingerprint_ignores_order_and_tells_label_sets_apart():
    assert labels_fingerprint({"a": "1", "b": "2"}) == labels_fingerprint({"b": "2", "a": "1"})
    assert labels_fingerprint({"a": "1", "b": "2"}) != labels_fingerprint({"a": "12"})
    assert len(labels_fingerprint({})) == 16


class TestPipeline:
    def test_stages_run_in_order_and_each_sees_the_previous_output(self):
        seen: list[list[str]] = []

        def recorder(name):
            def stage(alerts, ctx):
                seen.append([name, *[a.dedup_key for a in alerts]])
                return [a for a in alerts if a.dedup_key != f"drop-by-{name}"]

            return stage

        alerts = [make_alert("drop-by-first"), make_alert("keep")]
        result = run_pipeline([recorder("first"), recorder("second")], alerts, PipelineContext(NOW))
        assert [a.dedup_key for a in result] == ["keep"]
        assert seen == [["first", "drop-by-first", "keep"], ["second", "keep"]]

    def test_an_empty_result_stops_the_pipeline(self):
        called = []
        result = run_pipeline(
            [lambda alerts, ctx: [], lambda alerts, ctx: called.append(1) or alerts],
            [make_alert()],
            PipelineContext(NOW),
        )
        assert result == [] and called == []

    def test_the_context_refuses_a_naive_now(self):
        with pytest.raises(ValueError, match="timezone-aware"):
            PipelineContext(datetime(2024, 5, 1))


class TestDedupStage:
    @pytest.mark.parametrize(
        ("keys", "expected"),
        [
            pytest.param(["a", "b"], ["a", "b"], id="distinct-keys-all-pass"),
            pytest.param(["a", "a", "a"], ["a"], id="repeats-collapse"),
            pytest.param(["a", "b", "a"], ["b", "a"], id="last-occurrence-keeps-its-place"),
        ],
    )
    def test_one_alert_per_key_survives(self, keys, expected):
        alerts = [make_alert(key, summary=f"{key} #{i}") for i, key in enumerate(keys)]
        result = dedup_stage(alerts, PipelineContext(NOW))
        assert [a.dedup_key for a in result] == expected

    def test_the_latest_observation_wins(self):
        firing = make_alert("a")
        resolved = make_alert("a", status="resolved", ends_at=NOW + timedelta(minutes=1))
        assert dedup_stage([firing, resolved], PipelineContext(NOW)) == [resolved]


class _FixedMuter:
    def __init__(self, reasons: dict[str, str]):
        self.reasons = reasons

    def mutes(self, alert, now):
        return self.reasons.get(alert.dedup_key)


class TestMuteStage:
    def test_muted_alerts_are_dropped_and_reported_with_their_reason(self):
        reported: list[tuple[str, str]] = []
        stage = mute_stage(
            [_FixedMuter({"a": "maintenance"}), _FixedMuter({"b": "silence:7"})],
            on_muted=lambda alert, reason: reported.append((alert.dedup_key, reason)),
        )
        result = stage([make_alert("a"), make_alert("b"), make_alert("c")], PipelineContext(NOW))
        assert [a.dedup_key for a in result] == ["c"]
        assert reported == [("a", "maintenance"), ("b", "silence:7")]

    def test_the_first_muter_that_mutes_gives_the_reason(self):
        reported = []
        stage = mute_stage(
            [_FixedMuter({"a": "maintenance"}), _FixedMuter({"a": "silence:1"})],
            on_muted=lambda alert, reason: reported.append(reason),
        )
        stage([make_alert("a")], PipelineContext(NOW))
        assert reported == ["maintenance"]

    def test_a_resolve_is_never_muted_so_it_can_close_an_older_incident(self):
        stage = mute_stage([_FixedMuter({"a": "silence:1"})])
        resolved = make_alert("a", status="resolved")
        assert stage([resolved], PipelineContext(NOW)) == [resolved]

    def test_without_a_callback_muting_still_works(self):
        stage = mute_stage([_FixedMuter({"a": "parent_down"})])
        assert stage([make_alert("a")], PipelineContext(NOW)) == []


class TestMaintenanceMuter:
    WINDOW = MaintenanceWindow(
        id="mw1",
        starts_at=NOW,
        ends_at=NOW + timedelta(hours=2),
        services=frozenset({"power"}),
        check_ids=frozenset({7}),
    )

    @pytest.mark.parametrize(
        ("alert_kwargs", "at", "expected"),
        [
            pytest.param({"service": "power"}, NOW, "maintenance", id="service-at-start"),
            pytest.param({"check_id": 7}, NOW + timedelta(hours=1), "maintenance", id="check"),
            pytest.param({"service": "power"}, NOW - timedelta(seconds=1), None, id="before"),
            pytest.param({"service": "power"}, NOW + timedelta(hours=2), None, id="end-excluded"),
            pytest.param({"service": "cooling"}, NOW, None, id="other-service"),
            pytest.param({"check_id": 8}, NOW, None, id="other-check"),
        ],
    )
    def test_only_covered_alerts_inside_the_window_are_muted(self, alert_kwargs, at, expected):
        muter = MaintenanceMuter((self.WINDOW,))
        assert muter.mutes(make_alert(**alert_kwargs), at) == expected

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            pytest.param({"services": frozenset()}, "at least one service or check", id="empty"),
            pytest.param({"ends_at": NOW}, "must be after starts_at", id="zero-length"),
        ],
    )
    def test_a_window_that_would_mute_everything_or_nothing_is_refused(self, kwargs, message):
        values = {"id": "mw", "starts_at": NOW, "ends_at": NOW + timedelta(hours=1)}
        values.update({"services": frozenset({"power"})} | kwargs)
        with pytest.raises(AlertError, match=message):
            MaintenanceWindow(**values)


class TestParentDownMuter:
    MUTER = ParentDownMuter(parents={10: [1, 2], 11: [3]}, down=frozenset({2}))

    @pytest.mark.parametrize(
        ("check_id", "expected"),
        [
            pytest.param(10, "parent_down", id="one-parent-down"),
            pytest.param(11, None, id="parent-up"),
            pytest.param(12, None, id="no-parents"),
            pytest.param(None, None, id="not-a-check-alert"),
        ],
    )
    def test_a_check_behind_a_down_parent_is_muted(self, check_id, expected):
        assert self.MUTER.mutes(make_alert(check_id=check_id), NOW) == expected
