"""A message addressed to one person shows only to that person, not to the whole office."""

from __future__ import annotations

import datetime as dt

from duban.domain.clock import FixedClock
from duban.services.database import Database
from duban.services.messages import list_inbox
from models import InboxMessage


def test_personal_messages_stay_personal(db: Database, clock: FixedClock) -> None:
    earlier = clock.now() - dt.timedelta(hours=1)
    with db.transaction() as s:
        for key, user in (("office-wide", None), ("for-zhang", "zhang")):
            s.add(InboxMessage(campaign_id=None, office_code="zjj", username=user, kind="digest",
                               subject=key, body=key, dedupe_key=key, created_at=earlier,
                               visible_from=earlier))
    seen_by_li = {m.subject for m in db.run(list_inbox, clock, ["zjj"], username="li")}
    seen_by_zhang = {m.subject for m in db.run(list_inbox, clock, ["zjj"], username="zhang")}
    assert seen_by_li == {"office-wide"}
    assert seen_by_zhang == {"office-wide", "for-zhang"}
