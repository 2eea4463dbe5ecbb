"""A ledger page's statement is kept per kind of scope, its reach's values bound: two towns'
(or two offices', two villages') pages run one kept statement, and each lists exactly its
own rows, the rows a statement built for that scope alone lists, on both backends."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from duban.domain.lifecycle import Role, Status
from duban.services.actors import add_user
from duban.services.campaigns import load_plan_of
from duban.services.scoping import Scope, scope_for
from duban.services.views.common import plan_bands
from duban.services.views.ledger import (
    ROW_COLUMNS,
    LedgerQuery,
    Sort,
    _order,
    ledger_rows,
    ledger_select,
    page_statement,
)
from tests.web.conftest import World, password_hash

# Pairs of users whose scopes are of one kind: two towns, two offices, two villages.
PAIRS = [("town_hd", "town_lz"), ("off_zjj", "off_jyj"), ("vil_hd1", "vil_lz1")]


def _scope(world: World, username: str, today: dt.date) -> Scope:
    with world.db.transaction() as s:
        return scope_for(s, username, today)


def _queries(cid: int) -> list[LedgerQuery]:
    return [LedgerQuery(cid), LedgerQuery(cid, descending=True),
            LedgerQuery(cid, sort=Sort.CODE), LedgerQuery(cid, sort=Sort.UPDATED, pending=True),
            LedgerQuery(cid, status=Status.ROUTED), LedgerQuery(cid, lead_mine=True),
            LedgerQuery(cid, office="zjj", descending=True), LedgerQuery(cid, search="危房")]


@pytest.mark.parametrize("pair", PAIRS)
def test_scopes_of_one_kind_share_a_pages_statement(world: World, pair: tuple[str, str]) -> None:
    """Two users of one kind of scope run the same kept statement for every page shape, in
    both ways a page is found (and the undated rows apart), and each gets its own rows: what
    a statement built for their scope alone gives, page by page."""
    world.db.run(add_user, world.clock, username="vil_lz1", name="刘庄店村钱书记",
                 role=Role.VILLAGE, town="liuzhuangdian", village="liuzhuangdian-01",
                 password_hash=password_hash())
    today = world.clock.now().date()
    cid = world.campaign_id
    a, b = (_scope(world, u, today) for u in pair)
    assert a.role == b.role and a.key() != b.key()
    shapes = {g: "or" for g in (a.offices, b.offices, frozenset({"zjj"})) if g}
    listed: dict[str, set[int]] = {u: set() for u in pair}
    with world.db.transaction() as s:
        bands = plan_bands(load_plan_of(s, cid), today)
        for q in _queries(cid):
            for dense in (True, False):
                kept = {id(page_statement(s, scope, q, today, bands, shapes, dense))
                        for scope in (a, b)}
                assert len(kept) == 1, (pair, q, dense)
            for username, scope in zip(pair, (a, b), strict=True):
                for page in (1, 2):
                    q = replace(q, page=page, per_page=1)
                    got = [r.id for r in ledger_rows(s, scope, q, today, bands=bands,
                                                     shapes=shapes)]
                    alone = s.execute(ledger_select(s, scope, q, today, bands, shapes=shapes)
                                      .order_by(*_order(q)).limit(1).offset(page - 1)
                                      .with_only_columns(*ROW_COLUMNS)).all()
                    assert got == [r.id for r in alone], (username, q)
                    listed[username].update(got)
    names = {v: k for k, v in world.problems.items()}
    for username in pair:
        seen = {names[i] for i in listed[username]}
        # Each lists rows, and never the other's: the first user's values are not kept.
        assert seen and seen <= world.visible.get(username, {"lz_education", "lz_housing"}), (
            username, seen)


def test_a_scope_of_another_kind_gets_its_own_statement(world: World) -> None:
    """What decides a statement's clauses stays in its key: an office account of another
    campaign (nothing reached) and an office that also holds the county role run statements
    of their own; two offices at once (a substitute) share the one office's (the codes are
    an expanding parameter). Each lists what a statement built for it alone lists."""
    today = world.clock.now().date()
    cid = world.campaign_id
    zjj = _scope(world, "off_zjj", today)
    others = [replace(zjj, actor=replace(zjj.actor, campaigns=frozenset({cid + 1}))),
              replace(zjj, actor=replace(zjj.actor, offices=frozenset({"zjj", "jyj"}))),
              replace(zjj, actor=replace(zjj.actor, extra_roles=frozenset({Role.COUNTY})))]
    shapes = {g: "or" for g in (zjj.offices, frozenset({"zjj", "jyj"}))}
    q = LedgerQuery(cid, descending=True)
    with world.db.transaction() as s:
        bands = plan_bands(load_plan_of(s, cid), today)
        kept = [id(page_statement(s, scope, q, today, bands, shapes, True))
                for scope in (zjj, *others)]
        assert kept[0] == kept[2] and len(set(kept)) == 3, kept
        listed = []
        for scope in (zjj, *others):
            got = [r.id for r in ledger_rows(s, scope, q, today, bands=bands, shapes=shapes)]
            alone = s.execute(ledger_select(s, scope, q, today, bands, shapes=shapes)
                              .order_by(*_order(q)).limit(50)
                              .with_only_columns(*ROW_COLUMNS)).all()
            assert got == [r.id for r in alone]
            listed.append(len(got))
    assert listed[1] == 0 and 0 < listed[0] < listed[2], listed
