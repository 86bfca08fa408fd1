"""The Flask app factory: settings, storage, security, i18n, blueprints, errors, metrics."""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, g, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, ValidationError

from dutydesk.context import AppState, close_db_session
from dutydesk.core.config import Settings, load_settings
from dutydesk.core.db import Database
from dutydesk.core.validation import MAX_ID, nul_field
from dutydesk.core.validation import ValidationError as BadInput
from dutydesk.errors import register_error_handlers
from dutydesk.i18n import init_i18n
from dutydesk.logs import configure_logging
from dutydesk.metrics import Metrics
from dutydesk.migrate import ensure_migrated
from dutydesk.signin_guard import client_address

log = logging.getLogger("dutydesk.web")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

#: Scripts only from our own origin, never inline: an injected <script> or onclick= does not
#: run. Inline styles stay allowed (report charts are SVG with their own <style>).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
HSTS = "max-age=31536000"


class ForwardedFor:
    """WSGI middleware: ``REMOTE_ADDR`` becomes the client's address from ``X-Forwarded-For``
    when, and only when, the request came from one of ``trusted_proxies`` (walked from the
    right, see :func:`dutydesk.signin_guard.client_address`). Throttling, audit and logs then
    see people, not the proxy."""

    def __init__(self, app: Any, trusted_proxies: tuple[str, ...]) -> None:
        self.app, self.trusted = app, trusted_proxies

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ["REMOTE_ADDR"] = client_address(
            environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"), self.trusted)
        return self.app(environ, start_response)


def security_headers(base_url: str, form_targets: tuple[str, ...] = ()) -> dict[str, str]:
    """Headers every response carries; HSTS only when the site is served over https (on plain
    http a browser ignores it, and promising https where there is none would lock users out).
    ``form_targets``: other origins a form may lead to (the OpenID Connect provider, whose
    logout the sign-out form redirects to)."""
    csp = CONTENT_SECURITY_POLICY
    if form_targets:
        csp = csp.replace("form-action 'self'", "form-action 'self' " + " ".join(form_targets))
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "SAMEORIGIN",
    }
    if base_url.startswith("https://"):
        headers["Strict-Transport-Security"] = HSTS
    return headers


def template_folder() -> str:
    """Templates live in the repo's ``templates/``; a wheel carries them as ``_templates``."""
    packaged = Path(__file__).parent / "_templates"
    if packaged.is_dir():
        return str(packaged)
    return str(Path(__file__).resolve().parent.parent / "templates")


def create_app(
    config: dict[str, Any] | Settings | None = None,
    *,
    db: Database | None = None,
    check_migrations: bool = True,
) -> Flask:
    """Build the web app.

    ``config`` is a ``Settings`` or a mapping of overrides on top of the environment (see
    ``dutydesk.core.config``).
    Raises ``ConfigError`` for bad settings and ``NotMigratedError`` when the
    database schema is not at the current revision.
    """
    settings = config if isinstance(config, Settings) else load_settings(config)
    configure_logging(settings.log_level, settings.log_format)
    database = db or Database(settings.database_url)
    if check_migrations:
        ensure_migrated(database)

    app = Flask(
        "dutydesk",
        template_folder=template_folder(),
        static_folder=str(Path(__file__).parent / "static"),
        instance_path=settings.instance_path,
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.env == "testing",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_lifetime_hours),
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead; a wall page stays open for days
        WTF_CSRF_SSL_STRICT=False,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    from dutydesk.web.body_limit import BoundedRequest

    app.request_class = BoundedRequest  # chunked bodies over the limit: 413, not truncation
    # Every <int:...> in a route is an id: beyond what a database stores it names nothing (404).
    app.url_map.converters["int"] = IdConverter
    app.extensions["dutydesk"] = AppState(settings=settings, db=database, metrics=Metrics())

    if settings.trusted_proxies:
        app.wsgi_app = ForwardedFor(app.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]
    csrf = CSRFProtect(app)
    init_i18n(app)
    _install_request_hooks(app)
    register_error_handlers(app)
    _register_blueprints(app, csrf)

    @functools.cache
    def nav_paths() -> frozenset[str]:
        """Route paths that exist, so the menu shows an area only once it is installed."""
        return frozenset(rule.rule for rule in app.url_map.iter_rules())

    app.jinja_env.globals["nav_paths"] = nav_paths
    return app


class IdConverter(IntegerConverter):
    """``<int:...>`` bounded to ``0..MAX_ID``: ``/users/99999999999999999999`` is a 404 like any
    unknown id instead of an overflow in the database driver."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)

    def to_python(self, value: str) -> Any:
        try:
            return super().to_python(value)
        except ValidationError:
            # A plain NoMatch here would become 405 when a sibling rule (GET vs DELETE) of the
            # same path exists; an id that cannot exist is simply not found.
            raise NotFound(f"no such id: {value[:30]}") from None


def _register_blueprints(app: Flask, csrf: CSRFProtect) -> None:
    """Every area of the app, in one list. API blueprints authenticate with tokens, not forms."""
    from dutydesk.wall.views import bp as wall_bp
    from dutydesk.web.account import bp as account_bp
    from dutydesk.web.account_notify import bp as account_notify_bp
    from dutydesk.web.admin import bp as admin_bp
    from dutydesk.web.api import bp as api_bp
    from dutydesk.web.auth import bp as auth_bp
    from dutydesk.web.auth_oidc import bp as oidc_bp
    from dutydesk.web.deliveries_admin import bp as deliveries_bp
    from dutydesk.web.directory_admin import bp as directory_admin_bp
    from dutydesk.web.facility_admin import bp as facility_admin_bp
    from dutydesk.web.health import bp as health_bp
    from dutydesk.web.home import bp as home_bp
    from dutydesk.web.notices import api_bp as notices_api_bp
    from dutydesk.web.notices import bp as notices_bp
    from dutydesk.web.status import bp as status_bp
    from dutydesk.web.status_api import bp as status_api_bp
    from dutydesk.web.twofactor import bp as twofactor_bp
    from dutydesk.web.visitors import bp as visitors_bp
    from dutydesk.web.visitors_api import bp as visitors_api_bp

    for blueprint in (health_bp, auth_bp, account_bp, home_bp, admin_bp, visitors_bp, status_bp,
                      notices_bp, wall_bp, account_notify_bp, deliveries_bp, twofactor_bp,
                      directory_admin_bp, facility_admin_bp, oidc_bp):
        app.register_blueprint(blueprint)
    from dutydesk.web.status import unsubscribe_view

    csrf.exempt(unsubscribe_view)  # RFC 8058 one-click POST from mail clients; the token signs it
    from dutydesk.web.auth_oidc import backchannel_logout

    csrf.exempt(backchannel_logout)  # the provider posts a signed logout token, no browser
    for blueprint in (api_bp, visitors_api_bp, status_api_bp, notices_api_bp):
        csrf.exempt(blueprint)  # API checks CSRF itself for cookie sessions (see web/api.py)
        app.register_blueprint(blueprint)
    from dutydesk.web.incidents import register_incident_blueprints

    register_incident_blueprints(app, csrf)  # incidents UI + API, alert receivers
    from dutydesk.web.checks_api import register_check_blueprints

    register_check_blueprints(app, csrf)  # checks API, heartbeat /ping endpoints
    from dutydesk.web.probes_api import bp as probes_api_bp

    csrf.exempt(probes_api_bp)  # remote probes: bearer credential, no browser
    app.register_blueprint(probes_api_bp)
    from dutydesk.web.probe_events_api import bp as probe_events_api_bp

    csrf.exempt(probe_events_api_bp)  # traps and syslog heard at a probe's site
    app.register_blueprint(probe_events_api_bp)
    from dutydesk.web.probes_admin import bp as probes_admin_bp

    app.register_blueprint(probes_admin_bp)  # /admin/probes (CSRF-protected forms)
    from dutydesk.web.sites_admin import bp as sites_admin_bp

    app.register_blueprint(sites_admin_bp)  # /admin/sites (CSRF-protected forms)
    from dutydesk.web.shifts import bp as shifts_bp
    from dutydesk.web.shifts_api import api_bp as shifts_api_bp
    from dutydesk.web.shifts_api import ical_bp as shifts_ical_bp
    from dutydesk.web.shifts_log import bp as shifts_log_bp

    app.register_blueprint(shifts_bp)  # shift screens
    app.register_blueprint(shifts_log_bp)  # handoffs, journal, calendar links
    app.register_blueprint(shifts_ical_bp)  # .ics feeds (GET only, secret in the URL)
    csrf.exempt(shifts_api_bp)  # API checks CSRF itself for cookie sessions
    app.register_blueprint(shifts_api_bp)
    from dutydesk.web.shifts_write_api import bp as shifts_write_api_bp

    csrf.exempt(shifts_write_api_bp)  # schedules, rotations, overrides, swaps: same CSRF rule
    app.register_blueprint(shifts_write_api_bp)
    from dutydesk.web.reports import bp as reports_bp

    app.register_blueprint(reports_bp)  # effectiveness reports, their CSV and print page
    from dutydesk.web.requests_desk import bp as requests_desk_bp
    from dutydesk.web.requests_help import bp as requests_help_bp

    app.register_blueprint(requests_help_bp)  # /help: employees' door, "my requests" links
    from dutydesk.web.catalog_desk import bp as catalog_desk_bp
    from dutydesk.web.kb_desk import bp as kb_desk_bp
    from dutydesk.web.kb_help import bp as kb_help_bp

    app.register_blueprint(kb_help_bp)  # /help/kb: suggestions, public articles, "solved it"
    app.register_blueprint(kb_desk_bp)  # /kb: the knowledge base for the desk, editing
    app.register_blueprint(catalog_desk_bp)  # /catalog: the service catalog, editing
    app.register_blueprint(requests_desk_bp)  # the first line's queue, request, log a call
    from dutydesk.web.requests_api import bp as requests_api_bp

    csrf.exempt(requests_api_bp)  # API checks CSRF itself for cookie sessions
    app.register_blueprint(requests_api_bp)
    from dutydesk.web.kb_api import bp as kb_api_bp

    csrf.exempt(kb_api_bp)  # catalog and knowledge base API: the same CSRF rule
    app.register_blueprint(kb_api_bp)


def _install_request_hooks(app: Flask) -> None:
    from dutydesk.context import app_state
    from dutydesk.web.auth import load_principal

    cfg = app.extensions["dutydesk"].settings
    headers = security_headers(cfg.base_url, (cfg.oidc.origin,) if cfg.oidc else ())

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()
        _refuse_nul_characters()
        load_principal()

    @app.after_request
    def _finish(response: Any) -> Any:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        endpoint = request.url_rule.rule if request.url_rule else "<unmatched>"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        metrics = app_state().metrics
        metrics.http_requests.labels(request.method, endpoint, str(response.status_code)).inc()
        metrics.http_duration.labels(endpoint).observe(elapsed)
        if not request.path.startswith(("/static/", "/metrics", "/healthz")):
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round(elapsed * 1000, 1),
                    "request_id": g.get("request_id"),
                },
            )
        return response

    app.teardown_appcontext(close_db_session)


def _may_hold_nul(raw: bytes) -> bool:
    """Whether a JSON body can decode to text holding a NUL: in UTF-8 JSON only as the escape
    ``\\u0000`` (a raw control character is refused by the parser); other encodings (which
    hold zero bytes) are walked. Skips walking every value of large bodies (probe batches)."""
    return b"\x00" in raw or b"\\u0000" in raw


def _refuse_nul_characters() -> None:
    """A NUL character in a query, form or JSON API body is a 400 for every endpoint at once
    (nobody types one; PostgreSQL cannot store one). Alert receivers under ``/v2/`` parse their
    own bodies and answer in their protocol's shape."""
    sources: list[tuple[Any, str]] = [(request.args.to_dict(flat=False), "query")]
    if request.path.startswith("/hooks/"):
        request.get_data()  # signed bodies (Slack) are verified over their raw bytes: cache them
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "application/x-www-form-urlencoded", "multipart/form-data"
    ):
        sources.append((request.form.to_dict(flat=False), "form"))
    if request.is_json and request.path.startswith("/api/") and _may_hold_nul(request.get_data()):
        sources.append((request.get_json(silent=True), "body"))
    for values, where in sources:
        field = nul_field(values, where)
        if field:
            raise BadInput(field, "must not contain NUL characters")
