"""Alertmanager-style matchers and silences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dutydesk.incidents.alerts.matchers import (
    Matcher,
    MatcherError,
    MatchType,
    Silence,
    SilenceError,
    SilenceMuter,
    SilenceState,
    format_matchers,
    parse_matchers,
)
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class TestParsing:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            pytest.param(
                'service="mail", severity=~"critical|warning"',
                [("service", "=", "mail"), ("severity", "=~", "critical|warning")],
                id="the-usual-pair",
            ),
            pytest.param(
                '{alertname!="Watchdog",instance!~"test-.*"}',
                [("alertname", "!=", "Watchdog"), ("instance", "!~", "test-.*")],
                id="braces-no-spaces",
            ),
            pytest.param("  service = mail ,  ", [("service", "=", "mail")], id="unquoted"),
            pytest.param('team=""', [("team", "=", "")], id="empty-value"),
            pytest.param(
                r'msg="say \"hi\" \\ now\n"', [("msg", "=", 'say "hi" \\ now\n')], id="escapes"
            ),
            pytest.param('a="x,y}"', [("a", "=", "x,y}")], id="comma-and-brace-in-quotes"),
            pytest.param("", [], id="empty-string"),
            pytest.param("{ }", [], id="empty-braces"),
        ],
    )
    def test_valid_lists_parse(self, text, expected):
        parsed = parse_matchers(text)
        assert [(m.name, m.op.value, m.value) for m in parsed] == expected

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            pytest.param(
                'service="mail',
                "unterminated quoted value for label 'service'",
                id="unterminated-quote",
            ),
            pytest.param(
                '1a="x"',
                "expected a label name to start matcher 1 at position 1",
                id="name-starts-with-digit",
            ),
            pytest.param('a=="x"', "expected a value for label 'a'", id="doubled-operator"),
            pytest.param('a~"x"', "expected an operator .* after label 'a'", id="bad-operator"),
            pytest.param(
                'a="x" b="y"', "expected ',' between matchers at position 7", id="missing-comma"
            ),
            pytest.param('{a="x"', "expected a closing '}'", id="unclosed-brace"),
            pytest.param('a="x"}', "expected the end of the matcher list", id="stray-brace"),
            pytest.param(r'a="\q"', r"invalid escape '\\q'", id="bad-escape"),
            pytest.param(
                'a=~"crit("', r"matcher 1 \(a=~\"crit\(\"\): invalid regular expr", id="bad-regex"
            ),
            pytest.param(
                'a="1", b=~"[z-a]"', "matcher 2 .*bad character range", id="bad-regex-second"
            ),
        ],
    )
    def test_bad_syntax_is_refused_with_a_pointed_message(self, text, message):
        with pytest.raises(MatcherError, match=message):
            parse_matchers(text)

    def test_a_matcher_object_validates_like_the_parser(self):
        with pytest.raises(MatcherError, match="invalid label name 'se-rvice'"):
            Matcher("se-rvice", MatchType.EQUAL, "x")
        with pytest.raises(MatcherError, match="invalid operator '=='"):
            Matcher("service", "==", "x")  # type: ignore[arg-type]

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
                st.sampled_from(["=", "!="]),
                st.text(max_size=20),
            ),
            max_size=4,
        )
    )
    def test_formatting_and_parsing_round_trip(self, triples):
        matchers = tuple(Matcher(name, MatchType(op), value) for name, op, value in triples)
        assert parse_matchers(format_matchers(matchers)) == matchers


class TestMatching:
    LABELS = {"service": "mail", "severity": "critical", "instance": "mx1"}

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            pytest.param('service="mail"', True, id="equal"),
            pytest.param('service="Mail"', False, id="equal-is-case-sensitive"),
            pytest.param('service!="web"', True, id="not-equal"),
            pytest.param('severity=~"critical|warning"', True, id="regex-alternation"),
            pytest.param('severity=~"crit"', False, id="regex-is-anchored-at-end"),
            pytest.param('severity=~"ical"', False, id="regex-is-anchored-at-start"),
            pytest.param('severity=~"warning|crit"', False, id="anchoring-wraps-alternation"),
            pytest.param('instance!~"mx.*"', False, id="not-regex"),
            pytest.param('team=""', True, id="missing-label-equals-empty"),
            pytest.param('team!=""', False, id="missing-label-is-not-non-empty"),
            pytest.param('team=~".*"', True, id="missing-label-matches-dot-star"),
            pytest.param('service="mail", severity="warning"', False, id="all-must-match"),
        ],
    )
    def test_label_sets_match_like_alertmanager(self, text, expected):
        assert all(m.matches(self.LABELS) for m in parse_matchers(text)) is expected


def make_silence(**overrides) -> Silence:
    values = {
        "id": "s1",
        "matchers": parse_matchers('service="mail"'),
        "starts_at": NOW,
        "ends_at": NOW + timedelta(hours=1),
        "created_by": "olena",
        "comment": "mail relay migration",
    }
    values.update(overrides)
    return Silence(**values)


class TestSilence:
    @pytest.mark.parametrize(
        ("at", "state"),
        [
            pytest.param(NOW - timedelta(seconds=1), SilenceState.PENDING, id="before-start"),
            pytest.param(NOW, SilenceState.ACTIVE, id="start-inclusive"),
            pytest.param(NOW + timedelta(minutes=59), SilenceState.ACTIVE, id="inside"),
            pytest.param(NOW + timedelta(hours=1), SilenceState.EXPIRED, id="end-exclusive"),
        ],
    )
    def test_a_silence_is_active_only_inside_its_window(self, at, state):
        silence = make_silence()
        assert silence.state(at) is state
        assert silence.is_active(at) is (state is SilenceState.ACTIVE)

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            pytest.param({"matchers": ()}, "needs at least one matcher", id="no-matchers"),
            pytest.param(
                {"matchers": parse_matchers('team=~".*"')},
                "would match every alert",
                id="matches-everything",
            ),
            pytest.param(
                {"matchers": parse_matchers('team!="x"')},
                "would match every alert",
                id="negative-only",
            ),
            pytest.param({"ends_at": NOW}, "must be after starts_at", id="ends-at-start"),
            pytest.param({"comment": " "}, "comment must say why", id="blank-comment"),
            pytest.param({"created_by": ""}, "created_by must name", id="no-author"),
            pytest.param({"starts_at": datetime(2024, 5, 1)}, "timezone-aware", id="naive"),
        ],
    )
    def test_invalid_silences_are_refused(self, overrides, message):
        with pytest.raises(SilenceError, match=message):
            make_silence(**overrides)

    def test_from_text_parses_the_matchers(self):
        silence = Silence.from_text(
            "s9",
            'service="mail", severity=~"warning|info"',
            starts_at=NOW,
            ends_at=NOW + timedelta(hours=1),
            created_by="olena",
            comment="noisy",
        )
        assert silence.matches({"service": "mail", "severity": "info"})
        assert not silence.matches({"service": "mail", "severity": "critical"})


class TestSilenceMuter:
    def alert(self, **labels) -> Alert:
        return Alert(
            source=AlertSource.ALERTMANAGER,
            dedup_key="alertmanager:abc",
            status=AlertStatus.FIRING,
            starts_at=NOW,
            summary="disk full",
            labels=labels,
        )

    @pytest.mark.parametrize(
        ("labels", "at", "expected"),
        [
            pytest.param({"service": "mail"}, NOW, "silence:s1", id="matching-and-active"),
            pytest.param({"service": "web"}, NOW, None, id="not-matching"),
            pytest.param({"service": "mail"}, NOW + timedelta(hours=2), None, id="expired"),
            pytest.param({"service": "dns"}, NOW, "silence:s2", id="second-silence"),
        ],
    )
    def test_active_matching_silences_mute_with_their_id(self, labels, at, expected):
        muter = SilenceMuter(
            (make_silence(), make_silence(id="s2", matchers=parse_matchers('service="dns"')))
        )
        assert muter.mutes(self.alert(**labels), at) == expected
