"""Schemathesis against our own OpenAPI document, in-process (WSGI): every operation, as an admin
and as a viewer, with data that fits the schema and data that does not. No answer may be a 5xx,
and every answer must be one the document promises (status, content type, body schema).

Bounded and reproducible: a fixed number of examples per operation and mode, derandomized, no
shrinking (a failure is recorded with its request and the run goes on, so one test run lists every
distinct failure). The stateful part follows the document's ``links`` (create -> read -> update ->
delete). Figures (operations, requests, time) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.models import Role

from ..conftest import bearer
from .fuzzing import ROLES, seed_world

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_MODE = 5  # per operation, role and mode
STATEFUL_SCENARIOS = 15  # chains of create -> read -> update -> delete along the links
STATEFUL_STEPS = 6


def bounded(max_examples: int, **extra: Any) -> settings:
    """Hypothesis settings for a bounded, reproducible run without shrinking."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        **extra,
    )


@dataclass
class Findings:
    """What the run saw: requests by status class, and each distinct failure once."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)

    def call(self, case: schemathesis.Case, headers: dict[str, str]) -> Any:
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # the app raised through the WSGI stack: a 5xx by definition
            self.requests += 1
            self.failures.setdefault((case.operation.label, "crash"), repr(exc))
            raise
        self.check(case, response, headers)
        return response

    def check(self, case: schemathesis.Case, response: Any, headers: dict[str, str]) -> None:
        self.requests += 1
        self.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # a FailureGroup: one per check failed
            kind = f"{response.status_code} {type(exc).__name__}"
            request = f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}"
            self.failures.setdefault(
                (case.operation.label, kind), f"{request[:300]}\n    {str(exc)[:600]}"
            )

    def report(self) -> str:
        lines = [f"{label}: {kind}\n    {text}" for (label, kind), text in self.failures.items()]
        return "\n".join(lines)


def fuzz_operation(
    operation: Any, mode: schemathesis.GenerationMode, headers: dict[str, str], findings: Findings
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @bounded(EXAMPLES_PER_MODE)
    def run(case: schemathesis.Case) -> None:
        with contextlib.suppress(Exception):  # recorded in findings; go on with the next case
            findings.call(case, headers)

    try:
        run()
    except Unsatisfiable:  # nothing to negate (no parameters, no body): positive cases cover it
        assert mode is schemathesis.GenerationMode.NEGATIVE


def run_stateful(schema: Any, headers: dict[str, str], findings: Findings) -> None:
    """Follow the document's links: create something, then read, change and delete it."""

    class Chains(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: schemathesis.Case, *args: Any,
                              **kwargs: Any) -> None:
            findings.check(case, response, headers)

    Chains.run(settings=bounded(STATEFUL_SCENARIOS, stateful_step_count=STATEFUL_STEPS))


@pytest.fixture
def fuzz_target(app: Any, db: Database, settings: Settings, api_token: Any) -> dict[Role, str]:
    tokens = {role: api_token(role) for role in ROLES}
    seed_world(app, db, settings, tokens[Role.ADMIN])
    return tokens


def test_no_operation_answers_5xx_or_outside_its_schema_as_admin_or_viewer(
    app: Any, fuzz_target: dict[Role, str]
) -> None:
    started = time.perf_counter()
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", app, headers=bearer(fuzz_target[Role.ADMIN])
    )
    findings = Findings()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50  # the whole API, not a corner of it
    for operation in operations:
        for role in ROLES:
            headers = bearer(fuzz_target[role])
            for mode in (schemathesis.GenerationMode.POSITIVE,
                         schemathesis.GenerationMode.NEGATIVE):
                fuzz_operation(operation, mode, headers, findings)
    stateful_before = findings.requests
    run_stateful(schema, bearer(fuzz_target[Role.ADMIN]), findings)
    elapsed = time.perf_counter() - started
    print(
        f"\nschemathesis: {len(operations)} operations, {findings.requests} requests "
        f"({findings.requests - stateful_before} in linked create/read/update/delete chains) in "
        f"{elapsed:.0f} s; statuses {dict(sorted(findings.statuses.items()))}; "
        f"{len(findings.failures)} distinct failures"
    )
    assert not findings.failures, findings.report()
    assert not any(status >= 500 for status in findings.statuses)


def test_the_probe_operations_answer_within_their_schema_to_an_enrolled_probe(
    app: Any, db: Database, api_token: Any
) -> None:
    """The admin and viewer run above meets the probe API with a 401 only: here it is fuzzed
    with a probe's own credential (long-poll ``wait`` included), positive and negative."""
    from dutydesk.core.db import utcnow
    from dutydesk.sites.service import create_probe, enrol

    with db.session() as s:
        credential = enrol(s, create_probe(s, "default", "fuzz", utcnow()).secret,
                           utcnow()).secret
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", app, headers=bearer(api_token(Role.VIEWER)))
    operations = [result.ok() for result in schema.get_all_operations()
                  if result.ok().path.startswith("/api/probe/v1/")]
    assert len(operations) == 3
    findings = Findings()
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            fuzz_operation(operation, mode, bearer(credential), findings)
    assert not findings.failures, findings.report()
    assert findings.statuses[200] > 0  # the credential worked: not a run of 401s
