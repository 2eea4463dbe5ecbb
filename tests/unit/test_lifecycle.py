"""The transition table: every (status, action) pair, and every guard."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from duban.domain.lifecycle import (
    TRANSITIONS,
    Action,
    Actor,
    GuardFailed,
    IllegalTransition,
    Payload,
    ProblemView,
    Role,
    Status,
    allowed_actions,
    decide,
)

D0 = dt.date(2022, 10, 10)
COUNTY = Actor("xian", Role.COUNTY, name="县巩固办")
SUPERVISOR = Actor("ducha1", Role.SUPERVISOR, name="督查一组")
OFFICE = Actor("jianhuan", Role.OFFICE, frozenset({"jianhuan"}), name="乡建环办")
OTHER_OFFICE = Actor("weijian", Role.OFFICE, frozenset({"weijian"}))
SYSTEM = Actor("system", Role.SYSTEM)

# A payload that satisfies every payload guard, so only role/identity guards remain.
FULL = Payload(note="说明", office="weijian", deadline=D0 + dt.timedelta(days=30),
               evidence=("ab" * 32,))


def view(status: Status, **kw: object) -> ProblemView:
    base: dict[str, object] = dict(code="W000001", status=status, lead_office="jianhuan",
                                   found_by="cunganbu", deadline=D0)
    base.update(kw)
    return ProblemView(**base)  # type: ignore[arg-type]


# Who can make each move when every guard is satisfied.
ACTOR_FOR: dict[Action, Actor] = {
    Action.ROUTE: COUNTY,
    Action.ACCEPT: OFFICE,
    Action.DISPUTE: OFFICE,
    Action.REASSIGN: COUNTY,
    Action.REJECT_DISPUTE: COUNTY,
    Action.REQUEST_EXTENSION: OFFICE,
    Action.APPROVE_EXTENSION: COUNTY,
    Action.REJECT_EXTENSION: COUNTY,
    Action.SUBMIT: OFFICE,
    Action.PASS_REVIEW: SUPERVISOR,
    Action.FAIL_REVIEW: SUPERVISOR,
    Action.CLOSE: COUNTY,
    Action.REOPEN: SUPERVISOR,
    Action.VOID: COUNTY,
}

EXPECTED: dict[tuple[Status, Action], Status] = {
    (Status.UNROUTED, Action.ROUTE): Status.ROUTED,
    (Status.UNROUTED, Action.VOID): Status.VOIDED,
    (Status.ROUTED, Action.ACCEPT): Status.RECTIFYING,
    (Status.ROUTED, Action.DISPUTE): Status.DISPUTED,
    (Status.ROUTED, Action.REASSIGN): Status.ROUTED,
    (Status.ROUTED, Action.VOID): Status.VOIDED,
    (Status.DISPUTED, Action.REASSIGN): Status.ROUTED,
    (Status.DISPUTED, Action.REJECT_DISPUTE): Status.RECTIFYING,
    (Status.DISPUTED, Action.VOID): Status.VOIDED,
    (Status.RECTIFYING, Action.DISPUTE): Status.DISPUTED,
    (Status.RECTIFYING, Action.REASSIGN): Status.ROUTED,
    (Status.RECTIFYING, Action.REQUEST_EXTENSION): Status.EXTENSION_REQUESTED,
    (Status.RECTIFYING, Action.SUBMIT): Status.SUBMITTED,
    (Status.EXTENSION_REQUESTED, Action.APPROVE_EXTENSION): Status.RECTIFYING,
    (Status.EXTENSION_REQUESTED, Action.REJECT_EXTENSION): Status.RECTIFYING,
    (Status.SUBMITTED, Action.PASS_REVIEW): Status.REVIEWED,
    (Status.SUBMITTED, Action.FAIL_REVIEW): Status.RECTIFYING,
    (Status.REVIEWED, Action.CLOSE): Status.CLOSED,
    (Status.CLOSED, Action.REOPEN): Status.RECTIFYING,
}


def ready_view(status: Status) -> ProblemView:
    """A problem in `status` that has what every identity guard wants."""
    return view(status, submitted_by="jianhuan", rectified_by="jianhuan",
                review_passed_by="ducha1" if status == Status.REVIEWED else None)


@pytest.mark.parametrize(("status", "action"), list(itertools.product(Status, Action)))
def test_every_status_action_pair(status: Status, action: Action) -> None:
    problem = ready_view(status)
    if (status, action) in EXPECTED:
        t = decide(problem, action, ACTOR_FOR[action], FULL)
        assert (t.source, t.target) == (status, EXPECTED[(status, action)])
    else:
        with pytest.raises(IllegalTransition) as err:
            decide(problem, action, ACTOR_FOR[action], FULL)
        assert "当前状态" in err.value.message and "不能执行" in err.value.message


def test_table_matches_expectation_exactly() -> None:
    assert {(r.source, r.action): r.target for r in TRANSITIONS} == EXPECTED


@pytest.mark.parametrize(("status", "action"), sorted(EXPECTED))
def test_every_other_role_is_refused(status: Status, action: Action) -> None:
    rule = next(r for r in TRANSITIONS if (r.source, r.action) == (status, action))
    for role in Role:
        if role in rule.roles:
            continue
        actor = Actor("x", role, frozenset({"jianhuan"}))
        with pytest.raises(GuardFailed) as err:
            decide(ready_view(status), action, actor, FULL)
        assert "无权办理" in err.value.message


@pytest.mark.parametrize("action", [Action.ACCEPT, Action.DISPUTE])
def test_only_the_routed_office_acts_on_a_routed_problem(action: Action) -> None:
    with pytest.raises(GuardFailed, match="牵头责任办室"):
        decide(view(Status.ROUTED), action, OTHER_OFFICE, FULL)


def test_only_the_routed_office_submits() -> None:
    with pytest.raises(GuardFailed, match="牵头责任办室（jianhuan）"):
        decide(view(Status.RECTIFYING), Action.SUBMIT, OTHER_OFFICE, FULL)


def test_a_substitute_may_act_for_the_office() -> None:
    stand_in = Actor("zhangsan", Role.OFFICE, frozenset({"weijian", "jianhuan"}))
    assert decide(view(Status.RECTIFYING), Action.SUBMIT, stand_in, FULL).target == Status.SUBMITTED


def test_reviewer_is_never_the_submitter() -> None:
    submitted = view(Status.SUBMITTED, submitted_by="ducha1", rectified_by="ducha1")
    for action in (Action.PASS_REVIEW, Action.FAIL_REVIEW):
        with pytest.raises(GuardFailed, match="复核人不能是整改提交人"):
            decide(submitted, action, SUPERVISOR, FULL)


def test_closing_needs_a_passed_review_and_three_signatures() -> None:
    with pytest.raises(GuardFailed, match="须复核通过"):
        decide(view(Status.REVIEWED, rectified_by="jianhuan"), Action.CLOSE, COUNTY, FULL)
    with pytest.raises(GuardFailed, match="三方签字"):
        decide(view(Status.REVIEWED, review_passed_by="ducha1", rectified_by=None),
               Action.CLOSE, COUNTY, FULL)


def test_submit_needs_note_and_evidence() -> None:
    with pytest.raises(GuardFailed, match="佐证资料"):
        decide(view(Status.RECTIFYING), Action.SUBMIT, OFFICE, Payload(note="已改"))
    with pytest.raises(GuardFailed, match="说明"):
        decide(view(Status.RECTIFYING), Action.SUBMIT, OFFICE, Payload(evidence=("x",)))


def test_reassign_needs_a_different_known_office_and_reason() -> None:
    with pytest.raises(GuardFailed, match="不能与原办室相同"):
        decide(view(Status.DISPUTED), Action.REASSIGN, COUNTY,
               Payload(note="改派", office="jianhuan"))
    with pytest.raises(GuardFailed, match="须指定责任办室"):
        decide(view(Status.DISPUTED), Action.REASSIGN, COUNTY, Payload(note="改派"))
    with pytest.raises(GuardFailed, match="说明"):
        decide(view(Status.DISPUTED), Action.REASSIGN, COUNTY, Payload(office="weijian"))


def test_extension_must_move_the_deadline_later() -> None:
    with pytest.raises(GuardFailed, match="须晚于原时限"):
        decide(view(Status.RECTIFYING), Action.REQUEST_EXTENSION, OFFICE,
               Payload(note="雨季施工", deadline=D0))
    with pytest.raises(GuardFailed, match="须指定新的整改时限"):
        decide(view(Status.EXTENSION_REQUESTED), Action.APPROVE_EXTENSION, COUNTY, Payload())


def test_failed_review_and_reopen_need_reason_and_new_deadline() -> None:
    submitted = view(Status.SUBMITTED, submitted_by="jianhuan")
    with pytest.raises(GuardFailed, match="新的整改时限"):
        decide(submitted, Action.FAIL_REVIEW, SUPERVISOR, Payload(note="照片不清"))
    with pytest.raises(GuardFailed, match="说明"):
        decide(view(Status.CLOSED), Action.REOPEN, SUPERVISOR, Payload(deadline=D0))


def test_system_routes_at_intake() -> None:
    assert decide(view(Status.UNROUTED, lead_office=None), Action.ROUTE, SYSTEM,
                  Payload(office="jianhuan")).target == Status.ROUTED


def test_allowed_actions_follow_the_table() -> None:
    assert allowed_actions(Status.CLOSED) == [Action.REOPEN]
    assert allowed_actions(Status.VOIDED) == []
    assert set(allowed_actions(Status.RECTIFYING)) == {
        Action.DISPUTE, Action.REASSIGN, Action.REQUEST_EXTENSION, Action.SUBMIT}


def test_the_lifecycle_page_shows_the_table() -> None:
    from pathlib import Path

    from duban.domain.lifecycle import mermaid, rules_table

    page = (Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md").read_text("utf-8")
    assert mermaid() in page, "regenerate docs/lifecycle.md: python -m duban.domain.lifecycle"
    assert rules_table() in page, "regenerate docs/lifecycle.md: python -m duban.domain.lifecycle"
