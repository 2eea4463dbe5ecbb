"""Which lifecycle moves a user is offered on a problem, and what each move's form asks for."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from duban.domain.lifecycle import ACTION_LABELS, TRANSITIONS, Action, Role, Status
from duban.services.scoping import Scope


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
                                       deadline="optional", deadline_label="批准延至（默认按申请）"),
    Action.REJECT_EXTENSION: MoveForm(Action.REJECT_EXTENSION, "required", "驳回理由",
                                      tone="plain"),
    Action.SUBMIT: MoveForm(Action.SUBMIT, "required", "整改情况说明", files=True),
    Action.PASS_REVIEW: MoveForm(Action.PASS_REVIEW, "optional", "复核意见"),
    Action.FAIL_REVIEW: MoveForm(Action.FAIL_REVIEW, "required", "不通过的原因",
                                 deadline="required", tone="danger"),
    Action.CLOSE: MoveForm(Action.CLOSE, "optional", "销号意见",
                           confirm="确认销号？销号后只能由复核人重新打开。"),
    Action.REOPEN: MoveForm(Action.REOPEN, "required", "重新打开的原因（抽查发现的问题）",
                            deadline="required", tone="danger"),
    Action.VOID: MoveForm(Action.VOID, "required", "核销理由（不属实／重复）", tone="danger",
                          confirm="确认核销此问题？"),
}


def offered_moves(scope: Scope, status: Status, lead_office: str | None,
                  submitted_by: str | None, rectified_by: str | None) -> list[MoveForm]:
    """The moves the table allows this user from this status (role and signer checks only).

    Guards that depend on what is typed (a note, a later deadline) are checked when the form
    is sent; this only hides buttons the user could never use.
    """
    offered = []
    for rule in TRANSITIONS:
        if rule.source != status or scope.role not in rule.roles:
            continue
        if scope.role == Role.OFFICE and (lead_office is None or lead_office not in scope.offices):
            continue
        if (rule.action in {Action.PASS_REVIEW, Action.FAIL_REVIEW}
                and scope.actor.user in {submitted_by, rectified_by}):
            continue
        offered.append(FORMS[rule.action])
    return offered


def parse_date(value: str | None) -> dt.date | None:
    """A date from a form field (YYYY-MM-DD), or None when empty."""
    if not value or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        from duban.domain.errors import DubanError

        raise DubanError(f"日期格式应为 2022-10-20：{value[:30]}") from None
