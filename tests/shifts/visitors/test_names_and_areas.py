"""How names on IDs are matched to lists, and how hall/cage/rack scopes cover areas (rule 1)."""

from __future__ import annotations

import pytest

from shifts.visitors.areas import Area, AreaError
from shifts.visitors.names import names_match
from tests.shifts.visitors.builders import person

# --- name tolerance (documented in shifts/visitors/names.py) ----------------------------------


@pytest.mark.parametrize(
    ("on_list", "on_id", "match"),
    [
        pytest.param("Ivan Petrov", "IVAN PETROV", True, id="case"),
        pytest.param("Ivan Petrov", " Ivan \t Petrov ", True, id="whitespace"),
        pytest.param("Ivan Petrov", "Ivаn Petrоv", True, id="cyrillic lookalikes"),
        pytest.param("ANNA KOVAC", "АNNА КОVАС", True, id="cyrillic capitals that look latin"),
        pytest.param("José Núñez", "JOSE NUNEZ", True, id="diacritics as in the passport MRZ"),
        pytest.param("Anne-Marie O'Neil", "Anne Marie ONeil", True, id="hyphen and apostrophe"),
        pytest.param("Ivan Petrov", "Petrov Ivan", True, id="word order"),
        pytest.param("Ivan Petrov", "Иван Петров", False, id="transliteration is not a match"),
        pytest.param("Ivan Petrov", "Ivan Sergeyevich Petrov", False, id="extra patronymic"),
        pytest.param("Ivan Petrov", "Ivan Petrova", False, id="one letter differs"),
        pytest.param("Ivan Petrov", "Ivan", False, id="missing word"),
        pytest.param("", "  ", False, id="two blanks never match"),
    ],
)
def test_names_match_tolerates_only_what_the_eye_would(on_list, on_id, match):
    assert names_match(on_list, on_id) is match
    assert names_match(on_id, on_list) is match


# --- areas ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "area", "covered"),
    [
        pytest.param("Hall A", "Hall A / Cage 3 / Rack 12", True, id="hall covers its racks"),
        pytest.param("Hall A", "Hall A", True, id="an area covers itself"),
        pytest.param("Hall A / Cage 3", "hall a/cage 3/rack 1", True, id="case and spaces"),
        pytest.param("Hall A / Cage 3", "Hall A", False, id="cage does not cover its hall"),
        pytest.param("Hall A / Cage 3", "Hall A / Cage 30", False, id="prefix of a word is not"),
        pytest.param("Hall A", "Hall AB", False, id="similar hall name"),
    ],
)
def test_area_scope_follows_the_hall_cage_rack_hierarchy(scope, area, covered):
    assert Area.parse(scope).covers(Area.parse(area)) is covered


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("Hall A // Rack 1", id="empty level"),
        pytest.param("Hall A / Cage 1 / Rack 2 / Slot 4", id="too deep"),
    ],
)
def test_unreadable_area_is_refused(text):
    with pytest.raises(AreaError):
        Area.parse(text)


def test_a_lone_area_string_is_one_area_not_letters():
    assert person(scope="Hall A").scope == (Area.parse("Hall A"),)
