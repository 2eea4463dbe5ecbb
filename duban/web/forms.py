"""What each lifecycle move's form asks for and how it looks.

Which moves a user is offered is the domain's answer (`lifecycle.offered`, through
`services.moves.offer`); a deadline left empty gets the domain's default, shown beside it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from duban.domain.errors import ConflictError, DubanError, NotFound, PermissionDenied
from duban.domain.lifecycle import ACTION_LABELS, Action, GuardFailed, IllegalTransition


@dataclass(frozen=True)
class MoveForm:
    """The form of one move: what it asks for and how it looks."""

    action: Action
    note: str  # "required" / "optional"
    note_label: str
    office: bool = False  # pick a (new) responsible office
    deadline: str = ""  # "" / "required" / "optional"
    deadline_label: str = "新的整改时限"
    files: bool = False  # evidence upload (before / after)
    tone: str = "primary"  # primary / danger / plain
    confirm: str = ""  # a question the browser asks before sending

    @property
    def label(self) -> str:
        """The move in Chinese."""
        return ACTION_LABELS[self.action]


FORMS: dict[Action, MoveForm] = {
    Action.ROUTE: MoveForm(Action.ROUTE, "optional", "交办说明", office=True),
    Action.ACCEPT: MoveForm(Action.ACCEPT, "optional", "签收意见"),
    Action.DISPUTE: MoveForm(Action.DISPUTE, "required", "申请改派的理由", tone="plain"),
    Action.REASSIGN: MoveForm(Action.REASSIGN, "required", "改派理由", office=True, tone="plain"),
    Action.REJECT_DISPUTE: MoveForm(Action.REJECT_DISPUTE, "required", "驳回理由", tone="plain"),
    Action.REQUEST_EXTENSION: MoveForm(Action.REQUEST_EXTENSION, "required", "延期理由",
                                       deadline="required", deadline_label="申请延至",
                                       tone="plain"),
    Action.APPROVE_EXTENSION: MoveForm(Action.APPROVE_EXTENSION, "optional", "审批意见",
                                       deadline="optional", deadline_label="批准延至"),
    Action.REJECT_EXTENSION: MoveForm(Action.REJECT_EXTENSION, "required", "驳回理由",
                                      tone="plain"),
    Action.SUBMIT: MoveForm(Action.SUBMIT, "required", "整改情况说明", files=True),
    Action.PASS_REVIEW: MoveForm(Action.PASS_REVIEW, "optional", "复核意见"),
    Action.FAIL_REVIEW: MoveForm(Action.FAIL_REVIEW, "required", "不通过的原因",
                                 deadline="optional", tone="danger"),
    Action.CLOSE: MoveForm(Action.CLOSE, "optional", "销号意见",
                           confirm="确认销号？销号后只能由复核人重新打开。"),
    Action.REOPEN: MoveForm(Action.REOPEN, "required", "重新打开的原因（抽查发现的问题）",
                            deadline="optional", tone="danger"),
    Action.VOID: MoveForm(Action.VOID, "required", "核销理由（不属实／重复）", tone="danger",
                          confirm="确认核销此问题？"),
}


def parse_date(value: str | None) -> dt.date | None:
    """A date from a form field (YYYY-MM-DD), or None when empty."""
    if not value or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise DubanError(f"日期格式应为 2022-10-20：{value[:30]}") from None


def refusal_status(exc: DubanError) -> int:
    """The HTTP status of a refusal: 404 missing or out of scope, 403 not this user's to do,
    409 not from this status or changed by someone else, 400 anything wrong in the input."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied | GuardFailed):
        return 403
    if isinstance(exc, IllegalTransition | ConflictError):
        return 409
    return 400
