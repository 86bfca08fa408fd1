"""The escalation policy screen: shift leads edit steps; bad input is refused and nothing saved."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.db import Database
from dutydesk.incidents.models import EscalationPolicyRow
from dutydesk.models import AuditEntry, Role
from tests.conftest import form_token, login, make_user

PAGE = "/incidents/escalation"


def good_form(**changes: str) -> dict[str, str]:
    form = {
        "name": "night",
        "targets_1": "first_line",
        "delay_1": "10",
        "targets_2": "second_line, user:boss@example.com",
        "delay_2": "20",
        "repeat": "2",
        "ack_timeout_minutes": "30",
        "is_default": "on",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def policies(db: Database) -> list[EscalationPolicyRow]:
    with db.session() as s:
        return list(s.scalars(select(EscalationPolicyRow).order_by(EscalationPolicyRow.id)))


def test_shift_lead_creates_a_default_policy_and_it_is_audited(
    signed_in: Any, db: Database
) -> None:
    lead = signed_in("shift_lead")
    answer = lead.post(PAGE, data={"csrf_token": form_token(lead, PAGE), **good_form()})
    assert answer.status_code == 302
    [policy] = policies(db)
    assert policy.steps == [
        {"targets": ["first_line"], "delay_minutes": 10},
        {"targets": ["second_line", "user:boss@example.com"], "delay_minutes": 20},
    ]
    assert (policy.repeat, policy.ack_timeout_minutes, policy.is_default) == (2, 30, True)
    with db.session() as s:
        assert s.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1)) == (
            "escalation_policy.create"
        )
    assert "user:boss@example.com" in lead.get(PAGE).get_data(as_text=True)


def test_editing_and_marking_another_default_leaves_one_default(
    signed_in: Any, db: Database
) -> None:
    lead = signed_in("shift_lead")
    lead.post(PAGE, data={"csrf_token": form_token(lead, PAGE), **good_form()})
    lead.post(PAGE, data={"csrf_token": form_token(lead, PAGE), **good_form(name="day")})
    first = policies(db)[0]
    lead.post(
        PAGE,
        data={
            "csrf_token": form_token(lead, PAGE),
            "policy_id": str(first.id),
            **good_form(delay_1="5"),
        },
    )
    rows = policies(db)
    assert [(p.name, p.is_default) for p in rows] == [("night", True), ("day", False)]
    assert rows[0].steps[0]["delay_minutes"] == 5


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"targets_1": "third_line"}, "escalation target must be first_line"),  # unknown target
        ({"delay_1": "0"}, "delay must be a whole number of minutes &gt;= 1"),  # zero delay
        ({"delay_1": "ten"}, "step 1 delay (minutes) must be a whole number"),  # not a number
        ({"repeat": "10"}, "repeat must be between 0 and 9"),  # too many repeats
        ({"ack_timeout_minutes": "0"}, "acknowledgement timeout must be"),  # zero timeout
        (
            {"targets_1": "", "delay_1": "", "targets_2": "", "delay_2": ""},
            "needs at least one step",
        ),  # no steps
        ({"name": ""}, "name must say which policy"),  # no name
    ],
)
def test_bad_input_is_refused_with_the_reason_and_nothing_is_saved(
    signed_in: Any, db: Database, changes: dict[str, str], message: str
) -> None:
    lead = signed_in("shift_lead")
    answer = lead.post(PAGE, data={"csrf_token": form_token(lead, PAGE), **good_form(**changes)})
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert policies(db) == []


def test_engineers_cannot_edit_escalation(signed_in: Any, db: Database) -> None:
    engineer = signed_in("engineer")
    assert engineer.get(PAGE).status_code == 403


@pytest.mark.parametrize("role", ["shift_lead", "admin"])
def test_shift_leads_and_admins_find_the_screen_in_the_menu_and_on_the_incidents_screen(
    signed_in: Any, role: str
) -> None:
    lead = signed_in(role)
    link = f'href="{PAGE}"'
    assert link in lead.get("/").get_data(as_text=True)  # the top menu, on any page
    assert link in lead.get("/incidents").get_data(as_text=True)
    assert lead.get(PAGE).status_code == 200


@pytest.mark.parametrize("role", ["viewer", "engineer"])
def test_roles_that_may_not_edit_escalation_see_no_link_to_it(signed_in: Any, role: str) -> None:
    person = signed_in(role)
    for page in ("/", "/incidents"):
        assert f'href="{PAGE}"' not in person.get(page).get_data(as_text=True)


def delete_url(policy_id: int) -> str:
    return f"{PAGE}/{policy_id}/delete"


def test_shift_lead_deletes_a_policy_and_its_open_incidents_follow_the_default(
    signed_in: Any, app: Any, db: Database, api_token: Any
) -> None:
    from tests.dutydesk.test_incidents_web import open_incident

    lead = signed_in("shift_lead")
    lead.post(PAGE, data={"csrf_token": form_token(lead, PAGE), **good_form()})  # default
    lead.post(
        PAGE,
        data={"csrf_token": form_token(lead, PAGE), **good_form(name="vendor", is_default=None)},
    )
    vendor = next(p for p in policies(db) if p.name == "vendor")
    incident_id = open_incident(db, app, "chiller-2")
    chosen = app.test_client().post(
        f"/api/v1/incidents/{incident_id}/escalation-policy",
        json={"policy_id": vendor.id},
        headers={"Authorization": f"Bearer {api_token('engineer')}"},
    )
    assert chosen.status_code == 200
    assert "Followed by 1 open incident." in lead.get(PAGE).get_data(as_text=True)

    answer = lead.post(
        delete_url(vendor.id), data={"csrf_token": form_token(lead, PAGE)}, follow_redirects=True
    )
    assert answer.status_code == 200
    assert "1 open incident now follows the default policy" in answer.get_data(as_text=True)
    assert [p.name for p in policies(db)] == ["night"]
    detail = lead.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "escalation_policy_changed" in detail and "was deleted" in detail
    with db.session() as s:
        assert s.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1)) == (
            "escalation_policy.delete"
        )


def test_deleting_the_default_policy_is_refused_with_the_reason(
    signed_in: Any, db: Database
) -> None:
    lead = signed_in("shift_lead")
    lead.post(PAGE, data={"csrf_token": form_token(lead, PAGE), **good_form()})
    [night] = policies(db)
    page = lead.get(PAGE).get_data(as_text=True)
    assert f'action="{delete_url(night.id)}"' not in page  # no button for the default
    answer = lead.post(delete_url(night.id), data={"csrf_token": form_token(lead, PAGE)})
    assert answer.status_code == 409
    assert "is the default escalation policy and cannot be deleted" in answer.get_data(
        as_text=True
    )
    assert [p.name for p in policies(db)] == ["night"]


def test_engineers_cannot_delete_a_policy_and_unknown_ids_are_404(
    signed_in: Any, db: Database
) -> None:
    lead = signed_in("shift_lead")
    lead.post(PAGE, data={"csrf_token": form_token(lead, PAGE), **good_form(is_default=None)})
    [night] = policies(db)
    engineer = signed_in("engineer")
    refused = engineer.post(delete_url(night.id), data={"csrf_token": form_token(engineer)})
    assert refused.status_code == 403
    missing = lead.post(delete_url(night.id + 1), data={"csrf_token": form_token(lead, PAGE)})
    assert missing.status_code == 404
    assert len(policies(db)) == 1


@pytest.mark.parametrize(
    ("language", "help_text"),
    [
        ("en", "Targets: first_line (First line), second_line (Second line), shift_lead "
               "(Shift lead) or user:<email>, separated by commas."),
        ("ru", "Кому: first_line (Первая линия), second_line (Вторая линия), shift_lead "
               "(Старший смены) или user:<email>, через запятую."),
        ("uk", "Кому: first_line (Перша лінія), second_line (Друга лінія), shift_lead "
               "(Старший зміни) або user:<email>, через кому."),
    ],
)
def test_the_targets_help_shows_the_user_syntax_as_text(
    app: Any, db: Database, language: str, help_text: str
) -> None:
    lead = make_user(db, Role.SHIFT_LEAD, language=language)
    client = app.test_client()
    assert login(client, lead.email).status_code == 302
    html = client.get(PAGE).get_data(as_text=True)
    paragraph = html[html.index('<p class="targets-help">'):]
    paragraph = paragraph[:paragraph.index("</p>")]
    assert "user:&lt;email&gt;" in paragraph and "<email>" not in paragraph  # text, not a tag
    assert unescape(re.sub(r"<[^>]+>", "", paragraph)) == help_text
