"""PostgreSQL bulk writes of judged results: one statement per table per batch.

An executemany sends one INSERT/UPDATE per row (psycopg pipelines them, but the server still
plans and runs each, and the client adapts every value); here the rows travel as ONE JSON
document that ``json_to_recordset`` turns back into typed rows, so a batch of thousands of
results is three or four statements and one ``json.dumps`` (C) per table. Used by
:meth:`checks.store.CheckStore.write_history` and :mod:`checks.remote` on PostgreSQL; SQLite
keeps the executemany statements of :mod:`checks.store_sql`. The rows stored are the same
(same columns, same JSON text, results numbered in the order given).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from checks.rollups import HISTOGRAM_COLUMNS

INSERT_RESULTS = (
    "INSERT INTO check_results (check_id, started_at, status, message, duration, metrics) "
    "SELECT check_id, started_at, status, message, duration, metrics "
    "FROM json_to_recordset(%(rows)s::json) AS v(check_id int4, started_at timestamptz, "
    "status text, message text, duration float8, metrics json)"
)

_COUNTS = ("count", "up_count", "ok_count", *HISTOGRAM_COLUMNS)
_ROLLUP_COLUMNS = ("check_id", "resolution", "bucket_start", "duration_sum", "duration_min",
                   "duration_max", *_COUNTS)
UPSERT_MINUTES = (
    f"INSERT INTO check_rollups ({', '.join(_ROLLUP_COLUMNS)}) "
    f"SELECT {', '.join(_ROLLUP_COLUMNS)} FROM json_to_recordset(%(rows)s::json) AS v("
    "check_id int4, resolution text, bucket_start timestamptz, duration_sum float8, "
    "duration_min float8, duration_max float8, "
    + ", ".join(f"{name} int4" for name in _COUNTS)
    + ") ON CONFLICT (check_id, resolution, bucket_start) DO UPDATE SET "
    + ", ".join(f"{name} = check_rollups.{name} + excluded.{name}"
                for name in (*_COUNTS, "duration_sum"))
    # LEAST/GREATEST skip NULLs: a bucket without a duration takes the new one
    + ", duration_min = LEAST(check_rollups.duration_min, excluded.duration_min)"
    + ", duration_max = GREATEST(check_rollups.duration_max, excluded.duration_max)"
)

_KEYS = ("b_id int4, b_version int4, b_new_version int4, b_next_due timestamptz, "
         "b_updated timestamptz")
UPDATE_STATES = (
    "UPDATE check_states AS s SET next_due_at = v.b_next_due, version = v.b_new_version, "
    "updated_at = v.b_updated, state = v.b_state, status = v.b_status, "
    "state_type = v.b_state_type, attempt = v.b_attempt, flapping = v.b_flapping, "
    "in_maintenance = v.b_in_maintenance, last_result_at = v.b_last_result_at, "
    "last_status = v.b_last_status, last_message = v.b_last_message, "
    "last_duration = v.b_last_duration, last_metrics = v.b_last_metrics, "
    "last_perfdata = v.b_last_perfdata, last_long_output = v.b_last_long_output "
    f"FROM json_to_recordset(%(rows)s::json) AS v({_KEYS}, b_state json, b_status text, "
    "b_state_type text, b_attempt int4, b_flapping bool, b_in_maintenance bool, "
    "b_last_result_at timestamptz, b_last_status text, b_last_message text, "
    "b_last_duration float8, b_last_metrics json, b_last_perfdata json, b_last_long_output text) "
    "WHERE s.check_id = v.b_id AND s.version = v.b_version"
)
UPDATE_STALE = (
    "UPDATE check_states AS s SET next_due_at = v.b_next_due, version = v.b_new_version, "
    f"updated_at = v.b_updated FROM json_to_recordset(%(rows)s::json) AS v({_KEYS}) "
    "WHERE s.check_id = v.b_id AND s.version = v.b_version"
)


def _time(value: Any) -> str:
    """Timestamps travel as ISO 8601 with their offset; a naive one is refused, never taken
    as the server's zone (as ``UTCDateTime`` binds)."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} refused: store timezone-aware UTC")
        return value.isoformat()
    return str(value)  # as the engine's JSON serializer does for anything else


def _rows(rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    # Nested values (state, metrics, perfdata) keep the JSON text the engine's serializer
    # (``dutydesk.core.db``) would give them: same separators, ensure_ascii off.
    return {"rows": json.dumps(rows, ensure_ascii=False, default=_time)}


def insert_results(conn: Any, rows: Sequence[dict[str, Any]]) -> None:
    """``rows`` as :func:`checks.store_sql.history_rows` builds them, numbered in order."""
    conn.exec_driver_sql(INSERT_RESULTS, _rows(rows))


def upsert_minutes(conn: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Add the minute rollup ``rows`` (one per check and minute) to their buckets."""
    conn.exec_driver_sql(UPSERT_MINUTES, _rows([{**row, "resolution": "minute"} for row in rows]))


def update_states(conn: Any, params: Sequence[dict[str, Any]], *, stale: bool) -> int:
    """Compare-and-set state rows from ``state_params``-shaped ``params`` (one per check, no
    check twice); returns how many rows changed (fewer: another writer moved a version)."""
    return conn.exec_driver_sql(UPDATE_STALE if stale else UPDATE_STATES, _rows(params)).rowcount


__all__ = ["insert_results", "update_states", "upsert_minutes"]
