"""State-change log lines, written once the change is durable.

A service calls `state_changed(session, "problem_moved", campaign_id=…, problem_id=…)` where it
makes the change; the line is queued on the session and logged (`duban.adapters.logs.event`,
logger `duban.events`) when the session's transaction commits. A rollback drops what it undid
(a savepoint's rollback only the lines queued since the savepoint began), so the log never
reports a move, a notice or a delivery the database does not hold.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from duban.adapters.logs import event as log_event

_QUEUE = "duban_events"
_MARKS = "duban_event_marks"


def state_changed(session: Session, name: str, **fields: Any) -> None:
    """Queue one state-change line for when this session's transaction commits."""
    session.info.setdefault(_QUEUE, []).append((name, fields))


@event.listens_for(Session, "after_transaction_create")
def _mark(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_MARKS, {})
        marks[id(transaction)] = len(session.info.get(_QUEUE, []))


@event.listens_for(Session, "after_soft_rollback")
def _drop(session: Session, previous_transaction: SessionTransaction) -> None:
    queue = session.info.get(_QUEUE)
    if previous_transaction.nested:
        mark = session.info.get(_MARKS, {}).pop(id(previous_transaction), None)
        if queue is not None and mark is not None:
            del queue[mark:]
        return
    session.info.pop(_QUEUE, None)
    session.info.pop(_MARKS, None)


@event.listens_for(Session, "after_commit")
def _emit(session: Session) -> None:
    queue = session.info.pop(_QUEUE, None)
    session.info.pop(_MARKS, None)
    for name, fields in queue or ():
        log_event(name, **fields)
