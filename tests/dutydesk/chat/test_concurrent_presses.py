"""Two people press Acknowledge at the same instant in two chats: exactly one acknowledgement
is stored, and the other person is told who has the incident."""

from __future__ import annotations

import threading
from typing import Any

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.chat.acting import Answer, press
from dutydesk.incidents.chat.links import link
from dutydesk.incidents.chat.render import BY_CODE
from dutydesk.models import Role
from tests.conftest import make_user
from tests.dutydesk.chat.helpers import incident, page_everybody


def test_of_two_simultaneous_acknowledgements_from_telegram_and_slack_one_wins(
    db: Database, settings: Settings
) -> None:
    olena = make_user(db, Role.ENGINEER, "olena@dc.example")
    taras = make_user(db, Role.ENGINEER, "taras@dc.example")
    with db.session() as s:
        link(s, "telegram", "1111", olena.id, utcnow())
        link(s, "slack", "T0:U0TARAS", taras.id, utcnow())
        s.commit()
    incident_id = page_everybody(db, settings)
    start = threading.Barrier(2)
    answers: dict[str, Answer] = {}

    def press_in(provider: str, account: str) -> None:
        with db.session() as s:
            start.wait()
            answer = press(s, settings, provider, account, BY_CODE["ack"], incident_id,
                           utcnow())
            answers[provider] = answer
            (s.commit if answer.ok else s.rollback)()

    threads = [threading.Thread(target=press_in, args=args)
               for args in (("telegram", "1111"), ("slack", "T0:U0TARAS"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [p for p, a in answers.items() if a.ok]
    assert len(answers) == 2 and len(winners) == 1
    winner_email = {"telegram": olena.email, "slack": taras.email}[winners[0]]
    [loser] = [a for a in answers.values() if not a.ok]
    assert f"already acknowledged by {winner_email}" in loser.text
    stored: Any = incident(db, incident_id)
    assert stored.acknowledged_by == winner_email
