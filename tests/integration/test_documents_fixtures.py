"""Hand-written document contexts from seed 002 (沈丘县) and helpers to inspect .docx files.

Imported by the other test_documents_* modules; its own tests check the fixtures are sane.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docx.document import Document as DocumentObject
from docx.oxml.ns import qn

from duban.adapters.documents import (
    AlertColour,
    BulletinContext,
    BulletinGroup,
    BulletinItem,
    ContactPerson,
    DailyReportContext,
    DailyRow,
    LedgerContext,
    LedgerItem,
    NoticeContext,
    NoticeItem,
    Penalty,
    RankingContext,
    RankingRow,
    ReminderContext,
    ReminderItem,
    Requirement,
    ScoreLine,
    SeriesPoint,
    render_bulletin,
    render_daily_report,
    render_ledger,
    render_notice,
    render_ranking,
    render_reminder,
)

IN_CI = os.environ.get("CI", "").lower() == "true"

ISSUER = "沈丘县巩固办"
MARK = "沈丘县巩固拓展脱贫攻坚成果工作领导小组办公室"
ISSUED = dt.date(2022, 9, 26)
COPY_TO = ("县委办公室", "县政府办公室", "县纪委监委")
CONTACT = ContactPerson("刘国强", "0394-5212345")
PLAN_NAME = "《沈丘县巩固拓展脱贫攻坚成果同乡村振兴有效衔接工作集中整改提升专项行动工作方案》"

TOWNS = ("槐店回族镇", "刘庄店镇", "付井镇", "老城镇", "纸店镇", "新安集镇", "白集镇")
VILLAGES = ("王营村", "李寨村", "张庄村", "大刘庄村", "后楼村", "陈营村")
HOUSEHOLDS = ("王秀英", "李建国", "张桂兰", "刘振华", "陈玉梅", "赵德胜")

PROBLEMS = (
    ("年人均纯收入6540元，低于6900元监测线，未纳入监测对象", "按程序识别纳入监测对象，落实针对性帮扶措施",
     "民政", ()),
    ("住房安全等级鉴定为C级，房屋后墙裂缝、雨季漏雨，未纳入危房改造", "完成危房改造或加固，补齐鉴定和验收资料",
     "住建", ("县住建局",)),
    ("自来水入户但经常停水，未落实饮水安全保障措施", "排查管网故障，确保正常供水并建立维护台账",
     "水利", ("县水利局",)),
    ("适龄儿童因病休学，未办理送教上门", "落实送教上门并完善学籍资料", "教育", ("县教体局",)),
    ("户内成员未参加2022年度城乡居民基本医疗保险", "动员参保并落实资助参保政策", "医疗",
     ("县医保局", "县卫健委")),
    ("帮扶手册收入数据与系统数据不一致，账账不符", "核实收入并更新帮扶手册和系统数据", "档案", ()),
)

REQUIREMENTS = (
    Requirement("每日报告进度。", "请于每天17时前通过督办系统报告当日整改进度，确保10月20日前全部整改完毕。"),
    Requirement("提交佐证资料。", "整改完成后上传整改前后照片、相关凭证等佐证资料，做到“谁整改谁签字谁清零”。"),
    Requirement("严格复核销号。", "县督查组对整改结果逐项复核，复核不合格的退回重新整改，严禁弄虚作假、虚假整改。"),
)


def notice_items(n: int = 8, *, start: dt.date = dt.date(2022, 10, 10)) -> list[NoticeItem]:
    """n problems across towns and villages of 沈丘县 with deadlines in October 2022."""
    items = []
    for i in range(n):
        desc, req, _cat, co = PROBLEMS[i % len(PROBLEMS)]
        items.append(NoticeItem(
            seq=i + 1,
            code=f"SQ2022-{i + 1:04d}",
            town=TOWNS[i % len(TOWNS)],
            village=VILLAGES[i % len(VILLAGES)],
            household=HOUSEHOLDS[i % len(HOUSEHOLDS)],
            description=desc,
            requirement=req,
            deadline=start + dt.timedelta(days=i % 6),
            co_offices=co,
        ))
    return items


def notice_context(n: int = 8, **over: Any) -> NoticeContext:
    """A 督办通知书 from 县巩固办 to 县民政局 (seed 002, 集中整改阶段)."""
    fields: dict[str, Any] = dict(
        issuer=ISSUER,
        issuer_mark=MARK,
        number="沈巩督〔2022〕12号",
        title="关于槐店回族镇等乡镇监测帮扶和住房安全问题整改的督办通知书",
        addressee="县民政局",
        intro=(f"根据{PLAN_NAME}安排，县巩固办对排查阶段（9月15日—9月25日）各乡镇（办事处）和"
               "县直行业部门上报的问题清单进行了汇总整理。现将需你单位牵头整改的问题予以督办，"
               "请限期整改到位。"),
        problems=notice_items(n),
        requirements=REQUIREMENTS,
        contact=CONTACT,
        issued_on=ISSUED,
        copy_to=COPY_TO,
        printer=ISSUER,
        printed_on=ISSUED,
        seal_text=MARK,
    )
    fields.update(over)
    return NoticeContext(**fields)


def reminder_context() -> ReminderContext:
    """A 催办通知 to 县住建局 with red, orange and yellow items."""
    as_of = dt.date(2022, 10, 12)
    items = []
    for i, (days, colour) in enumerate([(3, AlertColour.RED), (1, AlertColour.RED),
                                        (0, AlertColour.ORANGE), (-2, AlertColour.ORANGE),
                                        (-5, AlertColour.YELLOW)]):
        desc, _req, _cat, _co = PROBLEMS[(i + 1) % len(PROBLEMS)]
        items.append(ReminderItem(
            seq=i + 1, code=f"SQ2022-{i + 101:04d}", town=TOWNS[i], village=VILLAGES[i],
            description=desc, deadline=as_of - dt.timedelta(days=days), days_overdue=days,
            colour=colour,
        ))
    return ReminderContext(
        issuer=ISSUER, issuer_mark=MARK, number="沈巩督〔2022〕19号",
        title="关于加快住房安全问题整改进度的催办通知", office="县住建局", as_of=as_of,
        intro="集中整改阶段即将结束，经督办系统核查，你单位部分问题整改进度滞后。现予催办。",
        items=items, requirements=REQUIREMENTS[:2], contact=CONTACT, issued_on=as_of,
        copy_to=("县委办公室", "县政府办公室"), seal_text=MARK,
    )


def bulletin_context(n: int = 11) -> BulletinContext:
    """A 通报 of n overdue items grouped by town and office."""
    as_of = dt.date(2022, 10, 21)
    offices = ("县住建局", "县民政局", "县水利局", "县医保局")
    items = []
    for i in range(n):
        desc, _r, _c, _co = PROBLEMS[i % len(PROBLEMS)]
        items.append(BulletinItem(
            code=f"SQ2022-{i + 201:04d}", town=TOWNS[i % 4], village=VILLAGES[i % 5],
            office=offices[i % 4], description=desc, deadline=dt.date(2022, 10, 15),
            days_overdue=6 - (i % 4),
        ))
    by_town = [BulletinGroup(t, [x for x in items if x.town == t]) for t in TOWNS[:4]]
    by_office = [BulletinGroup(o, [x for x in items if x.office == o]) for o in offices]
    return BulletinContext(
        issuer=ISSUER, issuer_mark=MARK, number="沈巩督〔2022〕23号",
        title="关于集中整改阶段逾期未整改问题的通报", addressee="各乡镇（办事处），县直各有关单位",
        as_of=as_of,
        intro="按照“10月20日前全县排查出来的问题整改完毕”的要求，县巩固办对问题整改情况进行了核查。"
              "现将逾期未整改问题通报如下。",
        by_town=by_town, by_office=by_office, requirements=REQUIREMENTS[1:], contact=CONTACT,
        issued_on=as_of, copy_to=COPY_TO, seal_text=MARK,
    )


def daily_context() -> DailyReportContext:
    """A daily progress report on 2022-10-08 with a fortnight of series."""
    day = dt.date(2022, 10, 8)
    towns = [DailyRow(t, found=40 + 7 * i, routed=38 + 7 * i, rectifying=12 + i,
                      awaiting_review=5 + (i % 3), closed=20 + 5 * i, overdue=i % 3,
                      closed_change=2 + (i % 4), rate_change=0.01 * (i % 5))
             for i, t in enumerate(TOWNS)]
    # A town with every problem closed: its 销号率 is the widest figure, 100.0%.
    towns[1] = dataclasses.replace(towns[1], routed=towns[1].found, rectifying=0,
                                   awaiting_review=0, closed=towns[1].found, overdue=0)
    offices = [DailyRow(o, found=15 + 3 * i, routed=15 + 3 * i, rectifying=4 + i,
                        awaiting_review=2, closed=8 + 2 * i, overdue=(i + 1) % 2,
                        closed_change=1 + i % 2, rate_change=0.02)
               for i, o in enumerate(("县住建局", "县民政局", "县水利局", "县教体局", "县医保局"))]
    series = [SeriesPoint(day - dt.timedelta(days=13 - k), found=150 + 12 * k,
                          closed=10 + 14 * k, overdue=max(0, k - 8)) for k in range(14)]
    return DailyReportContext(
        issuer=ISSUER, issuer_mark=MARK, title="集中整改提升专项行动整改进度日报",
        number="", report_date=day,
        intro="截至2022年10月8日17时，全县集中整改提升专项行动问题整改进度如下。",
        towns=towns, offices=offices, series=series, issued_on=day,
        copy_to=("县委办公室", "县政府办公室"),
    )


def ranking_context() -> RankingContext:
    """September's 月考评 of seven towns, with commended, last place and penalties."""
    crit = ("排查", "整改", "复核", "资料")
    rows = []
    for i, t in enumerate(TOWNS):
        scores = [ScoreLine(c, s) for c, s in zip(crit, (28 - i, 38 - 2 * i, 18 - (i % 3), 9),
                                                 strict=True)]
        rows.append(RankingRow(rank=i + 1, town=t, scores=scores, deduction=0.5 * (i % 2),
                               remark="表彰" if i < 3 else ("检讨发言" if i == len(TOWNS) - 1 else "")))
    return RankingContext(
        issuer=ISSUER, issuer_mark=MARK, number="沈巩督〔2022〕25号",
        title="关于2022年9月份集中整改提升专项行动月考评结果的通报",
        addressee="各乡镇（办事处）", year=2022, month=9,
        intro="根据专项行动工作方案“前3名给予表彰和奖励；后1名大会检讨发言”的要求，县巩固办对各乡镇"
              "（办事处）9月份集中整改提升工作进行了考评。现将结果通报如下。",
        rows=rows,
        penalties=[Penalty("白集镇", "住房安全问题未按期整改（2户）", 4000),
                   Penalty("新安集镇", "一般问题未整改（3个）", 1500)],
        requirements=REQUIREMENTS[2:], contact=CONTACT, issued_on=dt.date(2022, 10, 8),
        copy_to=COPY_TO, seal_text=MARK,
    )


def ledger_context(n: int = 30) -> LedgerContext:
    """The 整改台账 printed for the county on 2022-10-21: n problems, some closed, some late."""
    as_of = dt.date(2022, 10, 21)
    categories = ("收入监测", "住房安全", "饮水安全", "义务教育", "基本医疗", "帮扶资料")
    offices = ("县民政局", "县住建局", "县水利局", "县教体局", "县医保局", "县巩固办")
    items = []
    for i in range(n):
        desc, _r, _c, _co = PROBLEMS[i % len(PROBLEMS)]
        deadline = dt.date(2022, 10, 10) + dt.timedelta(days=3 * (i % 6))
        closed = deadline - dt.timedelta(days=2) if i % 3 == 0 else None
        items.append(LedgerItem(
            code=f"SQ2022-{i + 1:04d}", town=TOWNS[i % len(TOWNS)],
            village=VILLAGES[i % len(VILLAGES)], category=categories[i % 6], description=desc,
            office=offices[i % 6], status="已销号" if closed else "整改中", deadline=deadline,
            closed_on=closed, overdue=closed is None and deadline < as_of,
        ))
    return LedgerContext(
        issuer=ISSUER, issuer_mark=MARK, title="沈丘县集中整改提升专项行动问题整改台账",
        as_of=as_of, scope="全县", items=items, issued_on=as_of,
    )


ALL_CONTEXTS = {
    "notice": notice_context,
    "reminder": reminder_context,
    "bulletin": bulletin_context,
    "daily_report": daily_context,
    "ranking": ranking_context,
    "ledger": ledger_context,
}


# Each kind's renderer, beside its context above: the layout, page, PDF and font tests share it.
RENDERERS: dict[str, Callable[..., Path]] = {
    "notice": render_notice,
    "reminder": render_reminder,
    "bulletin": render_bulletin,
    "daily_report": render_daily_report,
    "ranking": render_ranking,
    "ledger": render_ledger,
}


def require(available: bool, reason: str) -> None:
    """Skip when an outside program is missing; fail instead when CI=true."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    print(f"SKIP: {reason}")
    pytest.skip(reason)


# ---------------------------------------------------------------- .docx inspection


def style_chain(doc: DocumentObject, style_id: str | None) -> Iterator[Any]:
    """A style element and its base styles."""
    styles = doc.styles.element
    seen = set()
    while style_id and style_id not in seen:
        seen.add(style_id)
        el = next((s for s in styles.findall(qn("w:style"))
                   if s.get(qn("w:styleId")) == style_id), None)
        if el is None:
            return
        yield el
        based = el.find(qn("w:basedOn"))
        style_id = None if based is None else based.get(qn("w:val"))


def _rpr_chain(doc: DocumentObject, p: Any, r: Any | None) -> Iterator[Any]:
    """rPr elements that apply to a run, most specific first, ending with docDefaults."""
    if r is not None:
        rpr = r.find(qn("w:rPr"))
        if rpr is not None:
            yield rpr
            rstyle = rpr.find(qn("w:rStyle"))
            if rstyle is not None:
                for st in style_chain(doc, rstyle.get(qn("w:val"))):
                    if st.find(qn("w:rPr")) is not None:
                        yield st.find(qn("w:rPr"))
    ppr = p.find(qn("w:pPr"))
    ps = None if ppr is None else ppr.find(qn("w:pStyle"))
    for st in style_chain(doc, "Normal" if ps is None else ps.get(qn("w:val"))):
        if st.find(qn("w:rPr")) is not None:
            yield st.find(qn("w:rPr"))
    if ps is not None:
        for st in style_chain(doc, "Normal"):
            if st.find(qn("w:rPr")) is not None:
                yield st.find(qn("w:rPr"))
    dflt = doc.styles.element.find(qn("w:docDefaults"))
    rpr_default = dflt.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    yield rpr_default


def run_prop(doc: DocumentObject, p: Any, r: Any | None, tag: str, attr: str) -> str | None:
    """The effective value of a run property attribute (e.g. w:rFonts/w:eastAsia)."""
    for rpr in _rpr_chain(doc, p, r):
        el = rpr.find(qn(tag))
        if el is not None and el.get(qn(attr)) is not None:
            return str(el.get(qn(attr)))
    return None


def ppr_prop(doc: DocumentObject, p: Any, path: str, attr: str) -> str | None:
    """The effective value of a paragraph property (direct, then the style chain)."""
    ppr = p.find(qn("w:pPr"))
    chain = []
    if ppr is not None:
        chain.append(ppr)
    ps = None if ppr is None else ppr.find(qn("w:pStyle"))
    for st in style_chain(doc, "Normal" if ps is None else ps.get(qn("w:val"))):
        if st.find(qn("w:pPr")) is not None:
            chain.append(st.find(qn("w:pPr")))
    for el in chain:
        node = el
        for part in path.split("/"):
            node = node.find(qn(part)) if node is not None else None
        if node is not None and node.get(qn(attr)) is not None:
            return str(node.get(qn(attr)))
    return None


def para_style(p: Any) -> str:
    """The pStyle id of a paragraph element."""
    ppr = p.find(qn("w:pPr"))
    ps = None if ppr is None else ppr.find(qn("w:pStyle"))
    return "" if ps is None else str(ps.get(qn("w:val")))


def para_text(p: Any) -> str:
    """The text of a paragraph element, tabs as \\t."""
    out = []
    for el in p.iter(qn("w:t"), qn("w:tab")):
        out.append("\t" if el.tag == qn("w:tab") else (el.text or ""))
    return "".join(out)


def body_paragraphs(doc: DocumentObject) -> list[Any]:
    """Every w:p in the body in order, including tables and text boxes."""
    return list(doc.element.body.iter(qn("w:p")))


def paragraphs_with_style(doc: DocumentObject, style_id: str) -> list[Any]:
    """Paragraph elements of one style."""
    return [p for p in body_paragraphs(doc) if para_style(p) == style_id]


def text_runs(p: Any) -> list[Any]:
    """Runs of a paragraph that carry text."""
    return [r for r in p.iter(qn("w:r")) if "".join(t.text or "" for t in r.iter(qn("w:t")))]


# ---------------------------------------------------------------- the fixtures' own checks


@pytest.mark.parametrize("kind", sorted(ALL_CONTEXTS))
def test_fixture_contexts_are_consistent(kind: str) -> None:
    ctx = ALL_CONTEXTS[kind]()
    assert ctx.issuer_mark == MARK
    assert ctx.issued_on.year == 2022


def test_notice_fixture_counts() -> None:
    ctx = notice_context(8)
    assert ctx.town_count == len({p.town for p in ctx.problems})
    assert ctx.earliest_deadline == dt.date(2022, 10, 10)
    assert [p.seq for p in ctx.problems] == list(range(1, 9))
