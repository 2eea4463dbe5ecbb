"""Rolling rounds: late problems go out on the plan's rhythm (`notices.rolling`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from duban.domain.clock import Clock
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork
from duban.services.notices.issuing import batch_notices, issue_notices
from models import NoticeRound


@dataclass(frozen=True)
class RoundResult:
    """What a rolling round did: its key, and the 文号 it issued (none: nothing was late)."""

    round_key: str
    numbers: tuple[str, ...]
    ran_now: bool  # False when the round had run already


def issue_round(uow: UnitOfWork, clock: Clock, campaign_id: int, *,
                issued_by: str = "system") -> RoundResult | None:
    """Issue the rolling round due now for problems not yet on a notice; once per round.

    Due only after the rectify stage's own notices went out (its stage run is done), on the
    plan's rhythm (`notices.rolling`). The round's row is written with its notices in one
    transaction, so a rerun, a second tick or a kill and rerun issues nothing twice and
    leaves no gap in the numbers.
    """
    from duban.domain.clock import local_now
    from duban.domain.plan import StageKind
    from duban.domain.rounds import due_round
    from duban.services.calendars import working_calendar
    from models import StageRun

    session = uow.session
    plan = load_plan_of(session, campaign_id)
    key = due_round(plan.notices, plan.reminders.work_start, local_now(clock),
                    working_calendar())
    if key is None:
        return None
    rectify_done = session.scalar(select(StageRun.id).where(
        StageRun.campaign_id == campaign_id, StageRun.kind == StageKind.RECTIFY.value,
        StageRun.status == "done").limit(1))
    if rectify_done is None:
        return None
    ran = session.scalar(select(NoticeRound.id).where(
        NoticeRound.campaign_id == campaign_id, NoticeRound.round_key == key))
    batch_key = f"round:{key}"
    if ran is not None:
        return RoundResult(key, tuple(n.number for n in batch_notices(uow.session, campaign_id, batch_key)),
                           ran_now=False)
    # A tick racing this one waits on the numbering register inside issue_notices and then
    # finds this round's batch already issued: it returns those notices, numbered once.
    rows = issue_notices(uow, clock, campaign_id, issued_by=issued_by, batch_key=batch_key,
                         round_key=key)
    return RoundResult(key, tuple(n.number for n in rows), ran_now=True)

