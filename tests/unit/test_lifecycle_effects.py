"""The transition table's defaults, effects, offers and separation of duties, without a database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from duban.domain.lifecycle import (
    EFFECTS,
    TRANSITIONS,
    Action,
    Actor,
    Context,
    Effect,
    GuardFailed,
    Payload,
    ProblemView,
    Role,
    Status,
    decide,
    offered,
    role_refusal,
)

D0 = dt.date(2022, 10, 10)
TODAY = dt.date(2022, 9, 26)
NOW = dt.datetime(2022, 9, 26, 1, 0, tzinfo=dt.UTC)
LATER = dt.date(2022, 11, 30)
REDO = dt.date(2022, 10, 8)
ASKED = dt.date(2022, 10, 28)

COUNTY = Actor("xian", Role.COUNTY, name="县巩固办")
COUNTY2 = Actor("xian2", Role.COUNTY, name="县巩固办二")
SUPERVISOR = Actor("ducha1", Role.SUPERVISOR, name="督查一组")
OFFICE = Actor("jianhuan", Role.OFFICE, frozenset({"jianhuan"}), name="乡建环办")
SYSTEM = Actor("system", Role.SYSTEM)
# One person, two roles: an office clerk who also sits on a supervision group...
CLERK_ON_GROUP = Actor("zhang", Role.OFFICE, frozenset({"jianhuan"}), name="张三",
                       extra_roles=frozenset({Role.SUPERVISOR}))
# ...and a county clerk who is also a supervisor.
COUNTY_ON_GROUP = Actor("li", Role.COUNTY, name="李四", extra_roles=frozenset({Role.SUPERVISOR}))

CTX = Context(today=TODAY, now=NOW, redo_deadline=REDO, requested_deadline=ASKED,
              routing_deadline=(D0, "按方案：住房 10 个工作日"))


def view(status: Status, **kw: Any) -> ProblemView:
    base: dict[str, Any] = dict(code="W000001", status=status, lead_office="jianhuan",
                                found_by="cunganbu", deadline=D0, reopen_count=1)
    base.update(kw)
    return ProblemView(**base)


# (status, action) -> actor, payload, problem fields and audit data the move must write.
CASES: dict[tuple[Status, Action], tuple[Actor, Payload, dict[str, Any], dict[str, Any]]] = {
    (Status.UNROUTED, Action.ROUTE): (
        SYSTEM, Payload(office="weijian", co_offices=("cun1", "cun1")),
        {"lead_office": "weijian", "routed_at": NOW, "unrouted_reason": None,
         "deadline": D0, "deadline_basis": "按方案：住房 10 个工作日"},
        {"from_office": None, "office": "weijian"}),
    (Status.UNROUTED, Action.VOID): (COUNTY, Payload(note="重复"), {}, {}),
    (Status.ROUTED, Action.ACCEPT): (OFFICE, Payload(), {}, {}),
    (Status.ROUTED, Action.DISPUTE): (OFFICE, Payload(note="不属本办"), {}, {}),
    (Status.ROUTED, Action.REASSIGN): (
        COUNTY, Payload(note="改派", office="weijian"),
        {"lead_office": "weijian", "routed_at": NOW, "unrouted_reason": None},
        {"from_office": "jianhuan", "office": "weijian"}),
    (Status.ROUTED, Action.VOID): (COUNTY, Payload(note="不属实"), {}, {}),
    (Status.DISPUTED, Action.REASSIGN): (
        COUNTY, Payload(note="改派", office="weijian"),
        {"lead_office": "weijian", "routed_at": NOW, "unrouted_reason": None},
        {"from_office": "jianhuan", "office": "weijian"}),
    (Status.DISPUTED, Action.REJECT_DISPUTE): (COUNTY, Payload(note="属本办"), {}, {}),
    (Status.DISPUTED, Action.VOID): (COUNTY, Payload(note="重复"), {}, {}),
    (Status.RECTIFYING, Action.DISPUTE): (OFFICE, Payload(note="不属本办"), {}, {}),
    (Status.RECTIFYING, Action.REASSIGN): (
        COUNTY, Payload(note="改派", office="weijian"),
        {"lead_office": "weijian", "routed_at": NOW, "unrouted_reason": None},
        {"from_office": "jianhuan", "office": "weijian"}),
    (Status.RECTIFYING, Action.REQUEST_EXTENSION): (
        OFFICE, Payload(note="雨季", deadline=LATER), {}, {"deadline": "2022-11-30"}),
    (Status.RECTIFYING, Action.SUBMIT): (
        OFFICE, Payload(note="已改", evidence=("ab" * 32,)),
        {"submitted_by": "jianhuan", "rectified_by": "jianhuan"}, {}),
    (Status.EXTENSION_REQUESTED, Action.APPROVE_EXTENSION): (
        COUNTY, Payload(),  # no date: the date the office asked for
        {"deadline": ASKED, "deadline_basis": "批准延期", "deadline_cycle": 1},
        {"from_deadline": "2022-10-10", "deadline": "2022-10-28"}),
    (Status.EXTENSION_REQUESTED, Action.REJECT_EXTENSION): (COUNTY, Payload(note="不批"), {}, {}),
    (Status.SUBMITTED, Action.PASS_REVIEW): (
        SUPERVISOR, Payload(), {"review_passed_by": "ducha1"}, {}),
    (Status.SUBMITTED, Action.FAIL_REVIEW): (
        SUPERVISOR, Payload(note="照片不清"),  # no date: the plan's working days
        {"deadline": REDO, "deadline_basis": "复核不通过，重新限期", "submitted_by": None,
         "review_passed_by": None, "deadline_cycle": 1},
        {"from_deadline": "2022-10-10", "deadline": "2022-10-08"}),
    (Status.REVIEWED, Action.CLOSE): (COUNTY, Payload(), {"closed_at": NOW}, {}),
    (Status.CLOSED, Action.REOPEN): (
        SUPERVISOR, Payload(note="抽查不合格", deadline=LATER),
        {"deadline": LATER, "deadline_basis": "抽查不合格，重新限期", "submitted_by": None,
         "review_passed_by": None, "reopen_count": 2, "closed_at": None,
         "deadline_cycle": 1},
        {"from_deadline": "2022-10-10", "deadline": "2022-11-30"}),
}


def ready(status: Status) -> ProblemView:
    """A problem in `status` signed as far as its status says."""
    if status == Status.UNROUTED:
        return view(status, lead_office=None, deadline=None)
    if status in (Status.SUBMITTED, Status.REVIEWED, Status.CLOSED):
        return view(status, submitted_by="jianhuan", rectified_by="jianhuan",
                    review_passed_by="ducha1" if status != Status.SUBMITTED else None)
    return view(status)


def test_every_row_has_a_case() -> None:
    assert set(CASES) == {(r.source, r.action) for r in TRANSITIONS}


@pytest.mark.parametrize(("status", "action"), sorted(CASES))
def test_each_move_writes_exactly_its_effects(status: Status, action: Action) -> None:
    actor, payload, fields, data = CASES[(status, action)]
    t = decide(ready(status), action, actor, payload, CTX)
    assert t.fields == {**fields, "status": t.target.value}
    assert t.data == data
    assert t.role == actor.role


def test_routing_replaces_co_offices_once_each_and_keeps_a_deadline_it_has() -> None:
    t = decide(ready(Status.UNROUTED), Action.ROUTE, SYSTEM,
               Payload(office="weijian", co_offices=("cun1", "cun2", "cun1")), CTX)
    assert t.co_offices == ("cun1", "cun2")
    kept = decide(view(Status.ROUTED), Action.REASSIGN, COUNTY,
                  Payload(note="改派", office="weijian"), CTX)
    assert "deadline" not in kept.fields and kept.co_offices is None


def test_every_effect_has_its_function_and_a_row_uses_it() -> None:
    assert set(EFFECTS) == set(Effect)
    assert {e for r in TRANSITIONS for e in r.effects} == set(Effect)


def test_a_failed_review_date_may_not_be_before_today() -> None:
    submitted = ready(Status.SUBMITTED)
    with pytest.raises(GuardFailed, match="不能早于今天"):
        decide(submitted, Action.FAIL_REVIEW, SUPERVISOR,
               Payload(note="照片不清", deadline=TODAY - dt.timedelta(days=1)), CTX)
    given = decide(submitted, Action.FAIL_REVIEW, SUPERVISOR,
                   Payload(note="照片不清", deadline=TODAY), CTX)
    assert given.fields["deadline"] == TODAY and given.payload.deadline == TODAY
    with pytest.raises(GuardFailed, match="不能早于今天"):
        decide(ready(Status.CLOSED), Action.REOPEN, SUPERVISOR,
               Payload(note="反弹", deadline=dt.date(2022, 9, 1)), CTX)
    reopened = decide(ready(Status.CLOSED), Action.REOPEN, SUPERVISOR, Payload(note="反弹"), CTX)
    assert reopened.fields["deadline"] == REDO


def test_without_a_default_the_date_is_still_required() -> None:
    with pytest.raises(GuardFailed, match="须指定新的整改时限"):
        decide(ready(Status.SUBMITTED), Action.FAIL_REVIEW, SUPERVISOR, Payload(note="照片不清"),
               Context(today=TODAY, now=NOW))


@pytest.mark.parametrize(("actor", "status", "expected"), [
    (OFFICE, Status.ROUTED, [Action.ACCEPT, Action.DISPUTE]),
    (COUNTY, Status.ROUTED, [Action.REASSIGN, Action.VOID]),
    (SUPERVISOR, Status.ROUTED, []),
    (OFFICE, Status.RECTIFYING, [Action.DISPUTE, Action.REQUEST_EXTENSION, Action.SUBMIT]),
    (Actor("weijian", Role.OFFICE, frozenset({"weijian"})), Status.RECTIFYING, []),
    (SUPERVISOR, Status.SUBMITTED, [Action.PASS_REVIEW, Action.FAIL_REVIEW]),
    (COUNTY, Status.REVIEWED, [Action.CLOSE]),
    (SUPERVISOR, Status.CLOSED, [Action.REOPEN]),
    (Actor("cun", Role.VILLAGE), Status.RECTIFYING, []),
    (Actor("zhen", Role.TOWN), Status.SUBMITTED, []),
])
def test_offered_is_role_and_actor_guards(actor: Actor, status: Status,
                                          expected: list[Action]) -> None:
    assert offered(ready(status), actor, CTX) == expected


# ---- separation of duties: one user holding two roles -------------------------------------


def test_a_two_role_user_acts_in_either_role() -> None:
    t = decide(view(Status.RECTIFYING), Action.SUBMIT, CLERK_ON_GROUP,
               Payload(note="已改", evidence=("ab" * 32,)), CTX)
    assert t.role == Role.OFFICE and t.fields["rectified_by"] == "zhang"
    other = ready(Status.SUBMITTED)  # rectified by someone else: may review as a supervisor
    t = decide(other, Action.PASS_REVIEW, CLERK_ON_GROUP, Payload(), CTX)
    assert t.role == Role.SUPERVISOR


def test_whoever_rectified_may_neither_review_nor_close() -> None:
    mine = view(Status.SUBMITTED, submitted_by="zhang", rectified_by="zhang")
    assert offered(mine, CLERK_ON_GROUP, CTX) == []
    for action, payload in ((Action.PASS_REVIEW, Payload()),
                            (Action.FAIL_REVIEW, Payload(note="自己退回"))):
        with pytest.raises(GuardFailed) as err:
            decide(mine, action, CLERK_ON_GROUP, payload, CTX)
        assert "复核人不能是整改提交人" in err.value.message
        assert "张三（责任办室、督查组）" in err.value.message
    # A county clerk who rectified (as a substitute office) may not close it either.
    county_rectifier = Actor("wang", Role.COUNTY, frozenset({"jianhuan"}), name="王五",
                             extra_roles=frozenset({Role.OFFICE}))
    reviewed = view(Status.REVIEWED, submitted_by=None, rectified_by="wang",
                    review_passed_by="ducha1")
    assert offered(reviewed, county_rectifier, CTX) == []
    with pytest.raises(GuardFailed, match="销号人不能是整改人") as err:
        decide(reviewed, Action.CLOSE, county_rectifier, Payload(), CTX)
    assert "王五（县级办公室、责任办室）" in err.value.message


def test_three_signatures_keep_the_reviewer_from_closing_alone() -> None:
    reviewed = view(Status.REVIEWED, rectified_by="jianhuan", review_passed_by="li")
    three = Context(today=TODAY, now=NOW, three_signatures=True)
    two = Context(today=TODAY, now=NOW, three_signatures=False)
    assert offered(reviewed, COUNTY_ON_GROUP, three) == []
    with pytest.raises(GuardFailed, match="三方分别签字") as err:
        decide(reviewed, Action.CLOSE, COUNTY_ON_GROUP, Payload(), three)
    assert "李四（县级办公室、督查组）" in err.value.message
    assert offered(reviewed, COUNTY2, three) == [Action.CLOSE]  # another county user closes
    # Without the plan's switch a county reviewer may pass and close at once (review pass --close).
    assert decide(reviewed, Action.CLOSE, COUNTY_ON_GROUP, Payload(), two).target == Status.CLOSED


def test_role_refusal_names_the_user_and_their_roles() -> None:
    assert role_refusal(COUNTY_ON_GROUP, Action.CLOSE) is None
    assert role_refusal(CLERK_ON_GROUP, Action.PASS_REVIEW) is None
    message = role_refusal(SUPERVISOR, Action.CLOSE, "批量销号")
    assert message == "批量销号须由县级办公室办理，督查一组（督查组）无权办理"
