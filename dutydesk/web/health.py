"""Liveness, readiness and metrics: reachable without signing in (for probes and Prometheus)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from dutydesk.context import app_state, db_session
from dutydesk.core.db import utcnow
from dutydesk.models import WorkerHeartbeat

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz() -> Any:
    """The process is up and serving. Says nothing about its dependencies (see /readyz)."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz() -> Any:
    """Ready when the database answers and a scheduler heartbeat is fresh."""
    state = app_state()
    checks: dict[str, dict[str, Any]] = {}
    try:
        state.db.ping()
        checks["database"] = {"ok": True}
    except SQLAlchemyError as exc:
        checks["database"] = {
            "ok": False,
            "reason": f"database unreachable: {exc.__class__.__name__}",
        }
    if checks["database"]["ok"]:
        latest = db_session().scalar(select(func.max(WorkerHeartbeat.beat_at)))
        max_age = timedelta(seconds=state.settings.scheduler_heartbeat_max_age)
        if latest is None:
            checks["scheduler"] = {"ok": False, "reason": "no scheduler has reported yet"}
        else:
            age = (utcnow() - latest).total_seconds()
            fresh = age <= max_age.total_seconds()
            checks["scheduler"] = {"ok": fresh, "last_heartbeat_age_seconds": round(age, 1)}
            if not fresh:
                checks["scheduler"]["reason"] = (
                    f"last scheduler heartbeat {age:.0f} s ago (limit {max_age.seconds} s)"
                )
    ready = all(c["ok"] for c in checks.values()) and "scheduler" in checks
    return jsonify(status="ready" if ready else "not ready", checks=checks), (200 if ready else 503)


@bp.route("/metrics")
def metrics() -> Response:
    return Response(
        app_state().metrics.render(), mimetype="text/plain; version=0.0.4; charset=utf-8"
    )
