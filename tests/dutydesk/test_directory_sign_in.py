"""Signing in with the company directory (LDAP) against a real OpenLDAP slapd: search-then-bind
over StartTLS and direct bind over LDAPS with the CA verified, groups mapped to roles, accounts
made on first sign-in and kept up to date, and every refusal (wrong password, disabled account,
no mapped group, injection, directory down) clear, logged and creating nothing."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dutydesk.app import create_app
from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.directory import DirectoryConfig, parse_config
from dutydesk.models import AuditEntry, Role, User
from dutydesk.web.auth_ldap import DirectoryError, authenticate, check_connection

from ..conftest import PASSWORD, csrf_from, login, make_user, skip_or_fail
from .ldap_server import (
    PASSWORDS,
    SERVICE_DN,
    SERVICE_PW,
    SUFFIX,
    Slapd,
    free_port,
    slapd_binary,
    start_slapd,
)

REQUIRE_LDAP = os.environ.get("DUTYDESK_REQUIRE_LDAP") == "1"


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    binary = slapd_binary()
    if binary is None:
        skip_or_fail("OpenLDAP slapd is not installed (apt-get install slapd ldap-utils)",
                     REQUIRE_LDAP)
    server = start_slapd(tmp_path_factory.mktemp("slapd"), binary)
    yield server
    server.stop()


def search_config(slapd: Slapd, **change: Any) -> DirectoryConfig:
    """Search with the service account, then bind as the person; StartTLS with our CA."""
    raw = {
        "url": slapd.url,
        "starttls": True,
        "ca_file": slapd.ca_file,
        "bind_dn": SERVICE_DN,
        "bind_password": SERVICE_PW,
        "user_base": f"ou=people,{SUFFIX}",
        "user_filter": "(&(uid={username})(!(employeeType=disabled)))",
        "group_base": f"ou=groups,{SUFFIX}",
        "groups": {"cn=dc-duty": "engineer", "cn=dc-leads": "shift_lead"},
        **change,
    }
    return parse_config(raw)


def direct_config(slapd: Slapd, **change: Any) -> DirectoryConfig:
    """Direct bind by DN template over LDAPS."""
    raw = {
        "url": slapd.tls_url,
        "ca_file": slapd.ca_file,
        "user_dn_template": f"uid={{username}},ou=people,{SUFFIX}",
        "group_base": f"ou=groups,{SUFFIX}",
        "groups": {f"cn=dc-duty,ou=groups,{SUFFIX}": "engineer", "cn=dc-leads": "shift_lead"},
        **change,
    }
    return parse_config(raw)


# --------------------------------------------------------------------------- the conversation


def test_search_then_bind_over_starttls_reads_the_person_and_their_role(slapd: Slapd) -> None:
    person = authenticate(search_config(slapd), "ivan", PASSWORDS["ivan"])
    assert person.dn == f"uid=ivan,ou=people,{SUFFIX}"
    assert person.role is Role.ENGINEER
    assert (person.email, person.name, person.phone, person.language) == (
        "ivan.petrenko@corp.example", "Ivan Petrenko", "+380 44 000 0001", "uk")


def test_direct_bind_over_ldaps_gives_a_lead_the_shift_lead_role(slapd: Slapd) -> None:
    person = authenticate(direct_config(slapd), "olena", PASSWORDS["olena"])
    assert person.role is Role.SHIFT_LEAD and person.language == "ru"


@pytest.mark.parametrize(
    ("username", "password", "stage"),
    [
        ("ivan", "wrong-password", "credentials"),  # wrong password
        ("nobody", "whatever-123", "credentials"),  # no such person
        ("stepan", PASSWORDS["stepan"], "credentials"),  # disabled: the filter leaves him out
        ("petro", PASSWORDS["petro"], "no_group"),  # in the canteen group only
        ("*)(uid=*", "x", "username"),  # LDAP injection never reaches the server
        ("ivan", "", "credentials"),  # an empty password would be an anonymous bind
    ],
)
def test_refusals_say_why(slapd: Slapd, username: str, password: str, stage: str) -> None:
    with pytest.raises(DirectoryError) as caught:
        authenticate(search_config(slapd), username, password)
    assert caught.value.stage == stage


def test_a_server_certificate_from_an_unknown_ca_fails_at_the_tls_stage(slapd: Slapd) -> None:
    other = str(Path(slapd.ca_file).with_name("other-ca.pem"))
    for cfg in (search_config(slapd, ca_file=other), direct_config(slapd, ca_file=other)):
        with pytest.raises(DirectoryError) as caught:
            check_connection(cfg)
        assert caught.value.stage == "tls", caught.value.detail


def test_connection_test_names_a_refused_service_account_and_a_dead_server(slapd: Slapd) -> None:
    assert "with verified TLS" in check_connection(search_config(slapd))
    with pytest.raises(DirectoryError) as caught:
        check_connection(search_config(slapd, bind_password="not-it"))
    assert caught.value.stage == "bind"
    with pytest.raises(DirectoryError) as caught:
        check_connection(search_config(slapd, url=f"ldap://127.0.0.1:{free_port()}",
                                       timeout=2))
    assert caught.value.stage == "connect"


# --------------------------------------------------------------------------- the login form


@pytest.fixture
def ldap_app(settings: Settings, db: Database, slapd: Slapd) -> Any:
    return create_app(dataclasses.replace(settings, ldap=search_config(slapd)), db=db)


def _login(client: Any, username: str, password: str) -> Any:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": username, "password": password,
                                       "csrf_token": token})


def _users(db: Database) -> list[str]:
    with db.session() as s:
        return sorted(s.scalars(select(User.email)))


def test_first_directory_sign_in_creates_the_account_and_the_next_updates_it(
    ldap_app: Any, db: Database, slapd: Slapd
) -> None:
    client = ldap_app.test_client()
    response = _login(client, "ivan", PASSWORDS["ivan"])
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "Ivan Petrenko" in client.get("/").get_data(as_text=True)
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == "ivan.petrenko@corp.example"))
        assert user.role is Role.ENGINEER and user.language == "uk"
        assert user.directory_dn == f"uid=ivan,ou=people,{SUFFIX}"
        assert user.phone == "+380 44 000 0001"

    slapd.ldif(f"""dn: uid=ivan,ou=people,{SUFFIX}
changetype: modify
replace: cn
cn: Ivan Petrenko-Shevchenko
""", modify=True)
    slapd.ldif(f"""dn: cn=dc-leads,ou=groups,{SUFFIX}
changetype: modify
add: member
member: uid=ivan,ou=people,{SUFFIX}
""", modify=True)
    try:
        again = ldap_app.test_client()
        assert _login(again, "ivan", PASSWORDS["ivan"]).status_code == 302
        with db.session() as s:
            users = list(s.scalars(select(User).where(func.lower(User.email).like("ivan%"))))
            assert len(users) == 1  # the same account, brought up to date
            assert users[0].name == "Ivan Petrenko-Shevchenko"
            assert users[0].role is Role.SHIFT_LEAD
            assert s.scalar(select(AuditEntry).where(AuditEntry.action == "update",
                                                     AuditEntry.entity_id == str(users[0].id)))
    finally:
        slapd.ldif(f"""dn: cn=dc-leads,ou=groups,{SUFFIX}
changetype: modify
delete: member
member: uid=ivan,ou=people,{SUFFIX}
""", modify=True)
        slapd.ldif(f"""dn: uid=ivan,ou=people,{SUFFIX}
changetype: modify
replace: cn
cn: Ivan Petrenko
""", modify=True)


@pytest.mark.parametrize(
    ("username", "password", "status", "says"),
    [
        ("ivan", "wrong-password", 401, "Wrong email or password"),
        ("stepan", PASSWORDS["stepan"], 401, "Wrong email or password"),
        ("petro", PASSWORDS["petro"], 403, "in no group that may use DutyDesk"),
        ("*)(uid=*", "anything-1", 400, "not a valid user name"),
    ],
)
def test_refused_directory_sign_ins_are_clear_logged_and_create_nothing(
    ldap_app: Any, db: Database, caplog: pytest.LogCaptureFixture,
    username: str, password: str, status: int, says: str,
) -> None:
    client = ldap_app.test_client()
    response = _login(client, username, password)
    assert response.status_code == status
    assert says in response.get_data(as_text=True)
    assert _users(db) == []
    assert any("directory sign-in refused" in r.getMessage() for r in caplog.records)
    assert client.get("/").status_code == 302


def test_when_the_directory_is_down_the_local_admin_still_signs_in(
    settings: Settings, db: Database, slapd: Slapd
) -> None:
    dead = search_config(slapd, url=f"ldap://127.0.0.1:{free_port()}", timeout=2)
    app = create_app(dataclasses.replace(settings, ldap=dead), db=db)
    admin = make_user(db, Role.ADMIN, email="breakglass@dc.example")
    client = app.test_client()
    refused = _login(client, "ivan", PASSWORDS["ivan"])
    assert refused.status_code == 503
    assert "cannot be reached" in refused.get_data(as_text=True)
    assert login(client, admin.email, PASSWORD).status_code == 302
    assert client.get("/admin/users").status_code == 200


def test_removed_from_the_group_loses_access_at_the_next_sign_in(
    ldap_app: Any, db: Database, slapd: Slapd
) -> None:
    client = ldap_app.test_client()
    assert _login(client, "ivan", PASSWORDS["ivan"]).status_code == 302
    slapd.ldif(f"""dn: cn=dc-duty,ou=groups,{SUFFIX}
changetype: modify
delete: member
member: uid=ivan,ou=people,{SUFFIX}
""", modify=True)
    try:
        refused = _login(ldap_app.test_client(), "ivan", PASSWORDS["ivan"])
        assert refused.status_code == 403
        assert client.get("/").status_code == 302  # the earlier session ended too
        with db.session() as s:
            user = s.scalar(select(User).where(User.directory_dn.is_not(None)))
            assert not user.active and user.directory_disabled_at is not None
    finally:
        slapd.ldif(f"""dn: cn=dc-duty,ou=groups,{SUFFIX}
changetype: modify
add: member
member: uid=ivan,ou=people,{SUFFIX}
""", modify=True)
    back = ldap_app.test_client()
    assert _login(back, "ivan", PASSWORDS["ivan"]).status_code == 302  # back in the group


def test_admin_page_shows_the_config_without_the_password_and_tests_a_user(
    ldap_app: Any, db: Database
) -> None:
    admin = make_user(db, Role.ADMIN)
    client = ldap_app.test_client()
    login(client, admin.email)
    page = client.get("/admin/directory").get_data(as_text=True)
    assert SERVICE_DN in page and SERVICE_PW not in page
    token = csrf_from(page)
    ok = client.post("/admin/directory", data={"action": "connection", "csrf_token": token})
    assert "with verified TLS" in ok.get_data(as_text=True)
    petro = client.post("/admin/directory", data={
        "action": "user", "username": "petro", "password": PASSWORDS["petro"],
        "csrf_token": token}).get_data(as_text=True)
    assert "none of the mapped groups" in petro and "canteen" in petro
    engineer = ldap_app.test_client()
    login(engineer, make_user(db, Role.ENGINEER).email)
    assert engineer.get("/admin/directory").status_code == 403


def test_config_problems_are_listed_in_words() -> None:
    with pytest.raises(ValueError) as caught:
        parse_config({"url": "http://dc1", "groups": {"cn=x": "boss"}, "timeout": 0})
    text = str(caught.value)
    assert "url: expected ldap://host" in text
    assert "unknown role 'boss'" in text
    assert "set user_dn_template (direct bind) or user_base" in text
    assert "timeout: seconds between 0.5 and 60" in text



# --------------------------------------------------------------------------- the periodic sync


def test_the_sync_takes_access_from_people_removed_from_the_group_and_lists_their_incidents(
    ldap_app: Any, db: Database, slapd: Slapd
) -> None:
    from dutydesk.core.db import utcnow
    from dutydesk.jobs import scheduled_jobs
    from dutydesk.web.directory_sync import sync_directory
    from shifts.models import ShiftJournalEntryRow

    from .test_incidents_web import open_incident

    ivan_session = ldap_app.test_client()
    assert _login(ivan_session, "ivan", PASSWORDS["ivan"]).status_code == 302
    assert _login(ldap_app.test_client(), "olena", PASSWORDS["olena"]).status_code == 302
    incident_id = open_incident(db, ldap_app, "ups-b")
    with db.session() as s:
        from dutydesk.incidents.models import Incident

        s.get(Incident, incident_id).assignee = "Ivan.Petrenko@corp.example"
        s.commit()
    settings = ldap_app.extensions["dutydesk"].settings
    assert "directory-sync" in [job.id for job in scheduled_jobs(settings, db)]

    slapd.ldif(f"""dn: cn=dc-duty,ou=groups,{SUFFIX}
changetype: modify
delete: member
member: uid=ivan,ou=people,{SUFFIX}
""", modify=True)
    try:
        with db.session() as s:
            report = sync_directory(s, settings.ldap, utcnow())
            s.commit()
    finally:
        slapd.ldif(f"""dn: cn=dc-duty,ou=groups,{SUFFIX}
changetype: modify
add: member
member: uid=ivan,ou=people,{SUFFIX}
""", modify=True)
    assert report.error == "" and report.checked == 2
    assert [(email, held) for email, _why, held in report.disabled] == [
        ("ivan.petrenko@corp.example", [(incident_id, "ups-b on battery")])]
    assert ivan_session.get("/").status_code == 302  # signed out at once
    with db.session() as s:
        users = {u.email: u.active for u in s.scalars(select(User))}
        assert users == {"ivan.petrenko@corp.example": False, "olena@corp.example": True}
        journal = s.scalars(select(ShiftJournalEntryRow.text)).all()
        assert any(f"#{incident_id} ups-b on battery" in t and "Ivan Petrenko" in t
                   for t in journal)


def test_the_sync_touches_nobody_while_the_directory_cannot_be_asked(
    ldap_app: Any, db: Database, slapd: Slapd
) -> None:
    from dutydesk.core.db import utcnow
    from dutydesk.web.directory_sync import sync_directory

    assert _login(ldap_app.test_client(), "ivan", PASSWORDS["ivan"]).status_code == 302
    dead = search_config(slapd, url=f"ldap://127.0.0.1:{free_port()}", timeout=2)
    with db.session() as s:
        report = sync_directory(s, dead, utcnow())
        s.commit()
    assert report.error.startswith("connect") and report.disabled == []
    with db.session() as s:
        assert all(s.scalars(select(User.active)))


def test_the_refusal_is_in_the_readers_language(ldap_app: Any, db: Database) -> None:
    client = ldap_app.test_client()
    page = client.get("/login", headers={"Accept-Language": "uk"}).get_data(as_text=True)
    assert "Email або ім'я користувача в каталозі" in page
    refused = client.post("/login", headers={"Accept-Language": "uk"}, data={
        "email": "petro", "password": PASSWORDS["petro"], "csrf_token": csrf_from(page)})
    assert "не входить до жодної групи з доступом до DutyDesk" in refused.get_data(as_text=True)


def test_groups_can_come_from_the_members_own_memberof_attribute(slapd: Slapd) -> None:
    cfg = direct_config(slapd, group_lookup="memberof")
    assert authenticate(cfg, "olena", PASSWORDS["olena"]).role is Role.SHIFT_LEAD
    with pytest.raises(DirectoryError) as caught:
        authenticate(cfg, "petro", PASSWORDS["petro"])
    assert caught.value.stage == "no_group" and "canteen" in caught.value.detail


def test_a_directory_entry_never_takes_over_a_local_account_with_the_same_email(
    ldap_app: Any, db: Database
) -> None:
    local = make_user(db, Role.ADMIN, email="ivan.petrenko@corp.example", name="Break Glass")
    refused = _login(ldap_app.test_client(), "ivan", PASSWORDS["ivan"])
    assert refused.status_code == 409
    assert "A local DutyDesk account already uses your email" in refused.get_data(as_text=True)
    with db.session() as s:
        user = s.get(User, local.id)
        assert (user.role, user.name, user.directory_dn) == (Role.ADMIN, "Break Glass", None)
    assert login(ldap_app.test_client(), local.email, PASSWORD).status_code == 302


def test_a_directory_person_is_sent_to_the_directory_to_change_their_password(
    ldap_app: Any, db: Database
) -> None:
    client = ldap_app.test_client()
    assert _login(client, "ivan", PASSWORDS["ivan"]).status_code == 302
    page = client.get("/account", headers={"Accept-Language": "en"}).get_data(as_text=True)
    # in Ukrainian: the directory's preferredLanguage (uk-UA) became Ivan's language
    assert "змінюйте пароль там" in page
    assert 'name="new_password"' not in page


def test_an_employee_in_no_mapped_group_signs_in_to_see_their_own_requests(
    settings: Settings, db: Database, slapd: Slapd
) -> None:
    from dutydesk.core.db import utcnow
    from dutydesk.requests import service as req
    from shifts.notices import service as svc

    app = create_app(dataclasses.replace(settings, ldap=search_config(slapd, requesters="all")),
                     db=db)
    with db.session() as s:
        svc.save_service(s, "admin", slug="mail", name="Mail", now=utcnow())
        mine = req.create_request(s, settings, "x", req.Requester("petro@corp.example"),
                                  service="mail", subject="My mail is slow", description="d",
                                  now=utcnow()).id
        other = req.create_request(s, settings, "x", req.Requester("boss@corp.example"),
                                   service="mail", subject="Boss mail", description="d",
                                   now=utcnow()).id
        s.commit()
    client = app.test_client()
    assert "Or sign in with your company account" in client.get("/help").get_data(as_text=True)
    response = _login(client, "petro", PASSWORDS["petro"])
    assert response.status_code == 302 and response.headers["Location"] == "/help"
    page = client.get("/help").get_data(as_text=True)
    assert "My mail is slow" in page and "Boss mail" not in page
    assert f"/help/mine/{mine}" in page
    assert "My mail is slow" in client.get(f"/help/mine/{mine}").get_data(as_text=True)
    assert client.get(f"/help/mine/{other}").status_code == 404
    assert _users(db) == []  # no account: the help desk only
    assert client.get("/incidents").status_code == 302
    # a wrong password is still a wrong password
    assert _login(app.test_client(), "petro", "wrong-password").status_code == 401


NESTED = f"""dn: cn=night-shift,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: night-shift
member: uid=petro,ou=people,{SUFFIX}

dn: cn=duty-all,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: duty-all
member: cn=night-shift,ou=groups,{SUFFIX}

dn: cn=loop-a,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: loop-a
member: cn=duty-all,ou=groups,{SUFFIX}

dn: cn=loop-b,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: loop-b
member: cn=loop-a,ou=groups,{SUFFIX}
"""


@pytest.fixture
def nested_groups(slapd: Slapd) -> Iterator[None]:
    """petro ∈ night-shift ∈ duty-all ∈ loop-a ∈ loop-b ∈ loop-a … (a cycle at the top)."""
    slapd.ldif(NESTED)
    slapd.ldif(f"""dn: cn=loop-a,ou=groups,{SUFFIX}
changetype: modify
add: member
member: cn=loop-b,ou=groups,{SUFFIX}
""", modify=True)
    yield
    slapd.ldif("".join(f"dn: cn={g},ou=groups,{SUFFIX}\nchangetype: delete\n\n"
                       for g in ("loop-b", "loop-a", "duty-all", "night-shift")), modify=True)


@pytest.mark.parametrize("lookup", ["search", "memberof"])
def test_nested_groups_are_walked_to_the_mapped_group_and_cycles_end(
    slapd: Slapd, nested_groups: None, lookup: str
) -> None:
    mapping = {"cn=duty-all": "engineer", "cn=dc-leads": "shift_lead"}
    flat = search_config(slapd, groups=mapping, group_lookup=lookup)
    with pytest.raises(DirectoryError) as refused:
        authenticate(flat, "petro", PASSWORDS["petro"])  # duty-all holds him only indirectly
    assert refused.value.stage == "no_group"
    nested = search_config(slapd, groups=mapping, group_lookup=lookup, nested_groups=True)
    person = authenticate(nested, "petro", PASSWORDS["petro"])
    assert person.role is Role.ENGINEER
    # a group three levels up (inside the cycle) counts too
    deep = search_config(slapd, groups={"cn=loop-b": "shift_lead"}, group_lookup=lookup,
                         nested_groups=True)
    assert authenticate(deep, "petro", PASSWORDS["petro"]).role is Role.SHIFT_LEAD


def test_the_sync_follows_nested_groups_too(
    settings: Settings, db: Database, slapd: Slapd, nested_groups: None
) -> None:
    from dutydesk.core.db import utcnow
    from dutydesk.web.directory_sync import sync_directory

    cfg = search_config(slapd, groups={"cn=duty-all": "engineer"}, nested_groups=True)
    app = create_app(dataclasses.replace(settings, ldap=cfg), db=db)
    assert _login(app.test_client(), "petro", PASSWORDS["petro"]).status_code == 302
    with db.session() as s:
        report = sync_directory(s, cfg, utcnow())
        s.commit()
    assert report.error == "" and report.checked == 1 and report.disabled == []
    assert _users(db) == ["petro@corp.example"]
