# ruff: noqa: E501  (the template loop is kept verbatim, its lines as long as they were)
"""The ledger's rows drawn in Python are what ledger.html's row loop drew: the loop as it
was, rendered by the pages' own environment, against `render.ledger_rows_html`."""

from __future__ import annotations

import datetime as dt

import pytest

from duban.services.views.ledger import LedgerRow
from duban.services.views.names import Names
from duban.web.render import ledger_rows_html, make_env

# ledger.html's row loop before the rows were drawn in Python (its last newline is the
# template's, after `{{ rows_html }}`).
LOOP = """  {% for r in rows %}
  <tr class="row-{{ r.band or 'none' }}">
    {% if bulk %}<td class="pick"><input type="checkbox" name="id" value="{{ r.id }}" aria-label="选择 {{ r.code }}"{% if r.id in kept.get('ids', ()) %} checked{% endif %}></td>{% endif %}
    <td data-label="编号"><a href="/problems/{{ r.id }}">{{ r.code }}</a></td>
    <td data-label="状态"><span class="status status-{{ r.status }}">{{ r.status_label }}</span>{% if r.band and r.band not in ('on_time',) %} <span class="chip band-{{ r.band }}">{{ r.band|band }}</span>{% endif %}</td>
    <td data-label="类别">{{ names.category(r.category) }}</td>
    <td data-label="地点">{{ names.town(r.town_code) }}{% if r.village_code %} · {{ names.village(r.village_code) }}{% endif %}</td>
    <td data-label="描述" class="desc"><a href="/problems/{{ r.id }}">{{ r.description|truncate(40, True, '…') }}</a></td>
    <td data-label="牵头办室">{{ names.office(r.lead_office) or '—' }}</td>
    <td data-label="时限">{{ r.deadline|date or ('待签收' if r.status == 'routed' and r.lead_office else '—') }}{% if r.workdays_left is not none %} <span class="left band-{{ r.band }}">{{ workdays_text(r.deadline, r.workdays_left, ctx.today) }}</span>{% endif %}{% if milestones and milestones.get(r.id) %}<div class="muted small">节点：{{ milestones[r.id]|nobreak_dates }}</div>{% endif %}</td>
  </tr>
  {% else %}
  <tr><td colspan="8" class="muted">没有符合条件的问题。</td></tr>
  {% endfor %}
"""

TODAY = dt.date(2022, 10, 10)
NAMES = Names(towns={"t1": "淮店<镇>", "t&2": "刘庄店"}, villages={"v1": "一村 \"东\""},
              offices={"o1": "住建局 & 规划", "o'2": "民政局"},
              categories={"water": "饮水<安全>"}, sources={"household": "走访"})


def _row(i: int, **kw: object) -> LedgerRow:
    base: dict[str, object] = dict(
        id=i, code=f"W{i:06d}", status="rectifying", status_label="整改中", category="water",
        source="household", town_code="t1", village_code="v1", household_id=None,
        description="屋顶漏雨，需要维修" * 6, lead_office="o1",
        deadline=dt.date(2022, 10, 12), found_on=dt.date(2022, 9, 20),
        updated_at=dt.datetime(2022, 10, 1, 8, tzinfo=dt.UTC), version=1, band="yellow",
        workdays_left=2)
    base.update(kw)
    return LedgerRow(**base)  # type: ignore[arg-type]


ROWS = [
    _row(1),
    _row(2, band="on_time", workdays_left=5, village_code=None, description="短"),
    _row(3, status="routed", status_label="待签收", deadline=None, band="", workdays_left=None),
    _row(4, status="routed", status_label="待签收", deadline=None, band="",
         workdays_left=None, lead_office=None),
    _row(5, status="closed", status_label="已销号", band="", workdays_left=None,
         description="<script>alert(\"x\")</script> & 'quoted' 描述" * 3),
    _row(6, code="W<6>&\"'", category="unknown<cat>", town_code="t&2", village_code="v?<x>",
         lead_office="o'2", band="overdue", workdays_left=-3),
    _row(7, lead_office="nobody&co", band="red", workdays_left=0,
         deadline=TODAY, description="a b c d e f g h i j k l m n o p q r s t u v w x y z " * 2),
]


@pytest.mark.parametrize("bulk", [False, True])
@pytest.mark.parametrize("kept", [{}, {"ids": [3, 6], "error": "x"}])
@pytest.mark.parametrize("milestones", [{}, {1: "10月5日 完成排查 <已过>", 6: "a&b", 7: ""},
                                        {1: "开工 2022-10-08 逾期未完成；完工 2022-10-20 未到期"}])
@pytest.mark.parametrize("rows", [ROWS, ROWS[:1], []])
def test_rows_drawn_in_python_are_the_template_loops(bulk: bool, kept: dict[str, object],
                                                    milestones: dict[int, str],
                                                    rows: list[LedgerRow]) -> None:
    env = make_env()
    want = env.from_string(LOOP).render(rows=rows, names=NAMES, bulk=bulk, kept=kept,
                                        milestones=milestones, ctx={"today": TODAY})
    got = ledger_rows_html(env, rows, names=NAMES, bulk=bulk, kept=kept,
                           milestones=milestones, today=TODAY)
    assert str(got) + "\n" == want


def test_milestone_dates_are_kept_whole_and_the_text_escaped() -> None:
    from duban.web.render import nobreak_dates

    got = str(nobreak_dates("开工 2022-10-08 <逾期>；完工 2022-10-20 & 未到期"))
    assert got == ('开工 <span class="nw">2022-10-08</span> &lt;逾期&gt;；'
                   '完工 <span class="nw">2022-10-20</span> &amp; 未到期')
