"""Error pages themselves never crash: a signed-in person sees the error in their language and
the usual page frame, even though the request's database session was rolled back and closed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dutydesk.context import db_session
from dutydesk.core.db import Database
from dutydesk.models import Role

from ..conftest import login, make_user


def test_a_500_for_a_signed_in_person_is_the_translated_error_page_not_a_bare_one(
    app: Any, db: Database
) -> None:
    @app.route("/explode-for-people")
    def explode() -> Any:
        db_session().execute(select(1))  # the failure comes mid-transaction, as real ones do
        raise RuntimeError("boom")

    person = make_user(db, Role.ENGINEER, name="Оксана Бондар", language="ru")
    client = app.test_client()
    assert login(client, person.email).status_code == 302
    response = client.get("/explode-for-people", headers={"Accept": "text/html"})
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "<h1>500</h1>" in page
    assert "Вернуться в DutyDesk" in page  # the person's language, though the session is gone
    assert "Оксана Бондар" in page  # the usual frame: who is signed in
    assert "boom" not in page  # internals stay in the log
