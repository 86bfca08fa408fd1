"""The one validation layer: every parser refuses bad input with the field's name and a reason,
and the app answers what nobody caught with a 400 (never a 500)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from dutydesk.core.validation import (
    MAX_ID,
    MAX_PAGE,
    ValidationError,
    choice,
    instant,
    iso_date,
    json_object,
    nul_field,
    number,
    record_id,
    weekday,
    weekdays,
    whole_number,
)
from dutydesk.models import Role
from dutydesk.pagination import PaginationError, parse_page_args

from ..conftest import bearer


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5),  # JSON number
        (5.0, 5),  # JSON clients often send whole floats
        (" 42 ", 42),  # a form field with spaces around
        ("+7", 7),
    ],
)
def test_a_whole_number_is_read_from_json_and_forms(value: Any, expected: int) -> None:
    assert whole_number(value, "n") == expected


@pytest.mark.parametrize(
    "value",
    [
        True,  # a boolean is not a count
        1.5,  # a fraction
        "1e20",  # exponent notation typed into a form
        "12abc",
        "٣",  # a non-ASCII digit
        float("nan"),
        float("inf"),
        [1],
        {"n": 1},
        str(2**64),  # beyond what any database stores
        2**31,  # beyond a PostgreSQL INTEGER
    ],
)
def test_anything_but_a_whole_number_in_range_is_refused_by_field_name(value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        whole_number(value, "position")
    assert refused.value.field == "position"


def test_bounds_say_what_was_allowed_and_what_came() -> None:
    with pytest.raises(ValidationError, match=r"between 1 and 10, got 11"):
        whole_number("11", "n", minimum=1, maximum=10)
    assert whole_number("", "n", default=3) == 3
    with pytest.raises(ValidationError, match="required"):
        whole_number("", "n")


def test_a_duration_of_1e20_minutes_is_refused_not_overflowed() -> None:
    with pytest.raises(ValidationError, match="between 0 and 10000, got 1e"):
        number(1e20, "duration_minutes", minimum=0, maximum=10_000)
    assert number("90", "duration_minutes", minimum=0, maximum=10_000) == 90
    assert number(1.5, "duration_minutes", minimum=0, maximum=10_000) == 1.5


def test_ids_are_positive_and_fit_a_database_integer() -> None:
    assert record_id("17", "policy_id") == 17
    assert record_id(MAX_ID, "policy_id") == MAX_ID
    assert record_id("", "policy_id", optional=True) is None
    for bad in (0, -1, MAX_ID + 1, "x"):
        with pytest.raises(ValidationError):
            record_id(bad, "policy_id")


def test_weekdays_accept_numbers_and_names_and_refuse_empty_entries() -> None:
    assert weekday("sat") == 5
    assert weekday("Saturday") == 5
    assert weekday("0") == 0
    assert weekdays(["fri", "0", 0, "sun"]) == [0, 4, 6]
    for bad in ("", "7", "saturn", None, -1):
        with pytest.raises(ValidationError, match="weekday"):
            weekday(bad)
    with pytest.raises(ValidationError):
        weekdays("mon")  # a string is not a list of days


def test_choices_list_what_is_allowed() -> None:
    assert choice(" viewer ", "role", Role) is Role.VIEWER
    assert choice("b", "x", ("a", "b")) == "b"
    with pytest.raises(ValidationError, match="expected one of a, b; got 'c'"):
        choice("c", "x", ("a", "b"))
    with pytest.raises(ValidationError):
        choice(["viewer"], "role", Role)


def test_dates_and_instants_must_be_iso_8601() -> None:
    assert iso_date("2026-12-07", "day") == date(2026, 12, 7)
    assert iso_date("", "day", optional=True) is None
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        iso_date("07.12.2026", "day")
    assert instant("2026-12-07T08:00:00Z", "at").isoformat() == "2026-12-07T08:00:00+00:00"
    with pytest.raises(ValidationError, match="no UTC offset"):
        instant("2026-12-07T08:00:00", "at")
    with pytest.raises(ValidationError, match="expected an ISO 8601 time"):
        instant(12, "at")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "expected a JSON object with Content-Type: application/json"),
        (["approve"], "expected a JSON object, got an array"),
        ("approve", "expected a JSON object, got a string"),
        (3, "expected a JSON object, got a number"),
    ],
)
def test_a_json_body_must_be_an_object(body: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        json_object(body)
    assert json_object(None, empty_ok=True) == {}


def test_page_numbers_beyond_the_last_possible_page_are_refused() -> None:
    assert parse_page_args({"page": "3", "per_page": "20"}) == (3, 20)
    assert parse_page_args({}) == (1, 50)
    for args in ({"page": str(2**64)}, {"page": str(MAX_PAGE + 1)}, {"page": "0"},
                 {"per_page": "501"}, {"page": "1.5"}):
        with pytest.raises(PaginationError):
            parse_page_args(args)


# --------------------------------------------------------------------------- in the app


def test_an_id_beyond_2_63_in_a_path_is_an_unknown_id_not_a_crash(
    client: Any, api_token: Any
) -> None:
    admin = bearer(api_token(Role.ADMIN))
    for path in (f"/api/v1/incidents/{2**64}", f"/api/v1/silences/{2**31}",
                 f"/api/v1/incidents/{'9' * 5000}"):
        response = client.get(path, headers=admin)
        assert response.status_code == 404, path
        assert "error" in response.get_json()


def test_a_page_beyond_2_63_is_a_400_naming_the_parameter(client: Any, api_token: Any) -> None:
    response = client.get(
        f"/api/v1/incidents?page={2**64}", headers=bearer(api_token(Role.VIEWER))
    )
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("page: ")


def test_a_validation_error_nobody_caught_is_a_400_page_in_the_viewers_language(
    app: Any, signed_in: Any
) -> None:
    @app.route("/explode-with-bad-input")
    def bad_input() -> Any:
        whole_number("soon", "position")

    client = signed_in(Role.ENGINEER)
    response = client.get("/explode-with-bad-input", headers={"Accept": "text/html"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "position: expected a whole number, got &#39;soon&#39;" in page
    assert client.user.email in page  # the page frame still shows who is signed in


def test_a_nul_character_anywhere_in_the_input_is_found_by_field_name() -> None:
    assert nul_field({"q": ["ok"], "name": ["a\x00b"]}, "form") == "name"
    assert nul_field({"outer": {"inner": ["x", "y\x00"]}}) == "outer.inner"
    assert nul_field({"title": "UPS", "n": 3}) is None


def test_a_nul_character_in_a_form_or_api_body_is_a_400_on_every_backend(
    client: Any, api_token: Any
) -> None:
    response = client.post(
        "/api/v1/incidents", headers=bearer(api_token(Role.ENGINEER)), json={"title": "a\x00b"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "title: must not contain NUL characters"
    assert client.get("/status?q=%00").status_code == 400


def test_a_huge_id_with_a_method_of_a_sibling_route_is_404_not_405(
    client: Any, api_token: Any
) -> None:
    response = client.delete(f"/api/v1/silences/{2**70}", headers=bearer(api_token(Role.ADMIN)))
    assert response.status_code == 404


def test_text_longer_than_its_column_is_a_400_naming_it_on_both_backends(
    client: Any, api_token: Any
) -> None:
    token = api_token(Role.ENGINEER)
    response = client.post(
        "/api/v1/silences",
        headers=bearer(token),
        json={"matchers": 'service="mail"', "comment": "ü" * 3000, "duration_minutes": 30},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "comment: must be at most 2000 characters, got 3000"
    listed = client.get("/api/v1/silences", headers=bearer(token)).get_json()
    assert listed["items"] == []  # nothing was saved
