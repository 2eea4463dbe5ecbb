"""Outbox delivery as the edge runs it: claim a batch, send it outside any transaction, record.

The steps commit one by one (a claim must be durable before anything is sent, an outcome as
soon as it is known), so the loop lives here, with the edges, and the outbox service only
does each step inside the unit of work it is given.
"""

from __future__ import annotations

from duban.domain.clock import Clock
from duban.domain.plan import Plan
from duban.services.database import Database
from duban.services.outbox import (
    DeliveryResult,
    Senders,
    claim,
    default_worker,
    mark_mail_off,
    record_outcomes,
    send_batch,
)


def deliver(db: Database, clock: Clock, *, worker: str | None = None, limit: int = 500,
            senders: Senders | None = None, max_batches: int = 100) -> DeliveryResult:
    """Send every outbox row whose time has come, in claimed batches."""
    senders = senders or Senders.default()
    worker = worker or default_worker()
    result = DeliveryResult()
    plans: dict[int, Plan] = {}
    with db.unit_of_work() as uow:
        if senders.email is None:
            # No SMTP settings: the mail channel is off, so its rows are not tried (nor retried).
            result.off = mark_mail_off(uow, clock)
            uow.commit()
        for _ in range(max_batches):
            batch = claim(uow, clock, worker, limit)
            uow.commit()
            if not batch:
                break
            result.claimed += len(batch)
            outcomes = send_batch(senders, batch)
            record_outcomes(uow, clock, outcomes, worker, result, plans)
            uow.commit()
            if len(batch) < limit:
                break
    return result
