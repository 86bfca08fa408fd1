"""Rule 4: equipment leaves only with the remove-equipment right or a recorded approval."""

from __future__ import annotations

import pytest

from shifts.visitors.decision import RuleCode
from shifts.visitors.model import Direction, EquipmentMovement, VisitorDataError
from shifts.visitors.rules import equipment_movement_allowed
from tests.shifts.visitors.builders import NOW, H, left, person, visit

IVAN_MAY_REMOVE = person(may_remove_equipment=True)
IVAN_MAY_NOT = person(may_remove_equipment=False)
GUEST = visit(id=501, person_name="Karl Gast", authorised_person_id=None, escort_visit_id=500)


def server(direction: Direction, approved_by: str | None = None) -> EquipmentMovement:
    return EquipmentMovement(
        visit_id=None,
        direction=direction,
        description="Dell R740 server",
        serial="SN-4711",
        removal_approved_by=approved_by,
        at=NOW,
    )


@pytest.mark.parametrize(
    ("movement", "who", "person", "code"),
    [
        pytest.param(
            server(Direction.IN),
            visit(),
            IVAN_MAY_NOT,
            RuleCode.OK,
            id="bringing equipment in needs no right",
        ),
        pytest.param(
            server(Direction.IN),
            GUEST,
            None,
            RuleCode.OK,
            id="a guest may bring equipment in",
        ),
        pytest.param(
            server(Direction.OUT),
            visit(),
            IVAN_MAY_REMOVE,
            RuleCode.OK,
            id="person with the remove-equipment right takes it out",
        ),
        pytest.param(
            server(Direction.OUT, approved_by="Olga Duty"),
            visit(),
            IVAN_MAY_NOT,
            RuleCode.OK,
            id="no right, but removal approved by staff",
        ),
        pytest.param(
            server(Direction.OUT, approved_by="Olga Duty"),
            GUEST,
            None,
            RuleCode.OK,
            id="guest with a recorded approval",
        ),
        pytest.param(
            server(Direction.OUT),
            visit(),
            IVAN_MAY_NOT,
            RuleCode.EQUIPMENT_REMOVAL_NOT_APPROVED,
            id="no right and no approval",
        ),
        pytest.param(
            server(Direction.OUT),
            GUEST,
            None,
            RuleCode.EQUIPMENT_REMOVAL_NOT_APPROVED,
            id="guest without approval",
        ),
        pytest.param(
            server(Direction.OUT),
            visit(),
            person(may_remove_equipment=True, valid_until=NOW - H),
            RuleCode.EQUIPMENT_REMOVAL_NOT_APPROVED,
            id="the right lapsed with the authorisation",
        ),
        pytest.param(
            server(Direction.OUT),
            visit(),
            person(may_remove_equipment=True, active=False),
            RuleCode.EQUIPMENT_REMOVAL_NOT_APPROVED,
            id="the right of a deactivated person does not count",
        ),
        pytest.param(
            server(Direction.OUT, approved_by="Olga Duty"),
            left(visit(), NOW - H),
            IVAN_MAY_REMOVE,
            RuleCode.NOT_ON_SITE,
            id="visitor no longer on site",
        ),
    ],
)
def test_equipment_movement(movement, who, person, code):
    decision = equipment_movement_allowed(movement, visit=who, person=person, now=NOW)

    assert decision.code is code
    assert decision.allowed is (code is RuleCode.OK)


def test_refusal_says_what_may_not_leave_and_why():
    decision = equipment_movement_allowed(
        server(Direction.OUT), visit=visit(), person=IVAN_MAY_NOT, now=NOW
    )

    assert "Dell R740 server" in decision.reason and "SN-4711" in decision.reason
    assert "approval" in decision.reason


def test_someone_elses_list_entry_is_a_programming_error():
    with pytest.raises(VisitorDataError, match="not the visitor"):
        equipment_movement_allowed(
            server(Direction.OUT), visit=GUEST, person=IVAN_MAY_REMOVE, now=NOW
        )


def test_movement_of_another_visit_is_a_programming_error():
    movement = EquipmentMovement(visit_id=999, direction=Direction.OUT, description="switch")

    with pytest.raises(VisitorDataError, match="visit #999"):
        equipment_movement_allowed(movement, visit=visit(), person=IVAN_MAY_REMOVE, now=NOW)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"direction": "sideways"}, "direction must be one of in, out", id="direction"),
        pytest.param({"description": "  "}, "equipment description", id="blank description"),
    ],
)
def test_movement_record_refuses_bad_values(changes, message):
    fields = {"visit_id": 500, "direction": "out", "description": "switch"} | changes

    with pytest.raises(VisitorDataError, match=message):
        EquipmentMovement(**fields)
