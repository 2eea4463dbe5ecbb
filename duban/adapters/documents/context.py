"""Plain data the document templates render; services build these, templates read them.

Standard library and the pure core only. Every context shares the letterhead fields of `OfficialDocument`
(发文机关标志, 文号, 标题, 成文日期, 附注, 版记); each document kind adds its own body.
Templates see each field under its own name (see `render.context_dict`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from duban.domain.labelled import Labelled


@dataclass(frozen=True)
class ContactPerson:
    """The person named in the 附注 line: （联系人：…，联系电话：…）."""

    name: str
    phone: str


@dataclass(frozen=True)
class Requirement:
    """One 整改要求 paragraph: a 楷体 run-in heading (may be empty) and the body text."""

    heading: str
    text: str


@dataclass(frozen=True, kw_only=True)
class OfficialDocument:
    """Fields every GB/T 9704 document carries: 版头, title, date, 附注 and 版记."""

    issuer: str  # 发文机关署名, e.g. 沈丘县巩固办
    issuer_mark: str  # 发文机关标志, printed in red at the top
    title: str
    issued_on: dt.date  # 成文日期
    number: str = ""  # 文号, e.g. 沈巩督〔2022〕12号; empty for unnumbered reports
    contact: ContactPerson | None = None
    copy_to: Sequence[str] = ()  # 抄送机关
    printer: str = ""  # 印发机关; defaults to the issuer in the 版记
    printed_on: dt.date | None = None  # 印发日期; defaults to issued_on
    seal_text: str = ""  # name on the issuer's seal; alt text of the seal placeholder
    seal_image: Path | None = None  # the issuer's electronic seal (PNG) swapped into the placeholder
    # The plan's words for its town-level places and its whole area (towns_word, area_word).
    place_word: str = "乡镇（办事处）"
    area_word: str = "全县"

    @property
    def printer_name(self) -> str:
        """The 印发机关 shown in the 版记."""
        return self.printer or self.issuer

    @property
    def printed_date(self) -> dt.date:
        """The 印发日期 shown in the 版记."""
        return self.printed_on or self.issued_on


@dataclass(frozen=True)
class NoticeItem:
    """One problem in a 督办通知书: where it is, what is wrong, what to do and by when."""

    seq: int
    code: str
    town: str
    village: str
    household: str
    description: str
    requirement: str
    # A date, or the words of a deadline that waits for this notice's 签收 ("签收后5个工作日").
    deadline: dt.date | str
    co_offices: Sequence[str] = ()
    lead: str = ""  # the lead office when the addressee only rectifies with it (配合)

    @property
    def location(self) -> str:
        """Town and village joined for a table cell (乡镇 + 村)."""
        return f"{self.town}{self.village}"

    @property
    def co_offices_text(self) -> str:
        """The units the addressee works with: 牵头：X for a co-office's item, else 、-joined."""
        others = "、".join(self.co_offices)
        if self.lead:
            return f"牵头：{self.lead}" + (f"；配合：{others}" if others else "")
        return others or "—"


@dataclass(frozen=True)
class NoticeTownSummary:
    """One town's line in the 附件 summary of a notice whose full list is a spreadsheet."""

    town: str
    problems: int
    leads: int  # 牵头
    co: int  # 配合
    earliest: dt.date | str | None  # the nearest dated deadline, else the words of one


NO_TOWN = "县直及其他"  # problems not in a town (a county unit's own)
# The closing report lists its failed spot checks one by one only up to this many; beyond it
# they are in its workbook's 随机抽查 sheet (seed 004's small demo failed 126: four pages).
CLOSING_FAILURES_LISTED = 20


@dataclass(frozen=True, kw_only=True)
class NoticeContext(OfficialDocument):
    """A 督办通知书: the problems routed to one office, with deadlines and requirements."""

    addressee: str  # 主送机关
    intro: str
    problems: Sequence[NoticeItem]
    requirements: Sequence[Requirement] = ()
    attachment_title: str = "督办问题清单"
    # The spreadsheet (.xlsx) the full 督办问题清单 is written to, by the name its addressee
    # receives it under, when the notice lists more problems than a Word table can usefully
    # hold (DUBAN_NOTICE_INLINE_LIMIT): the 附件 page then summarises it per town.
    list_file: str = ""

    @property
    def town_summary(self) -> list[NoticeTownSummary]:
        """Per town, most problems first: counts and the earliest deadline (with list_file)."""
        if not self.list_file:
            return []
        towns: dict[str, list[NoticeItem]] = {}
        for p in self.problems:
            towns.setdefault(p.town or NO_TOWN, []).append(p)
        out = []
        for town, items in towns.items():
            dated = [i.deadline for i in items if isinstance(i.deadline, dt.date)]
            words = [i.deadline for i in items if isinstance(i.deadline, str) and i.deadline]
            co = sum(1 for i in items if i.lead)
            out.append(NoticeTownSummary(town, len(items), len(items) - co, co,
                                         min(dated) if dated else (words[0] if words else None)))
        return sorted(out, key=lambda s: -s.problems)  # stable: first met first among equals

    @property
    def earliest_deadline(self) -> dt.date | None:
        """The nearest deadline among the problems."""
        return min((p.deadline for p in self.problems if isinstance(p.deadline, dt.date)),
                   default=None)

    @property
    def lead_count(self) -> int:
        """Problems the addressee leads (牵头)."""
        return sum(1 for p in self.problems if not p.lead)

    @property
    def co_count(self) -> int:
        """Problems the addressee rectifies with their lead office (配合)."""
        return sum(1 for p in self.problems if p.lead)

    @property
    def summary_text(self) -> str:
        """需你单位牵头整改的问题共N个, or 配合, or both with the split."""
        if not self.co_count:
            return f"需你单位牵头整改的问题共{len(self.problems)}个"
        if not self.lead_count:
            return f"需你单位配合整改的问题共{len(self.problems)}个"
        return (f"需你单位整改的问题共{len(self.problems)}个，其中牵头整改{self.lead_count}个、"
                f"配合整改{self.co_count}个")

    @property
    def town_count(self) -> int:
        """How many towns the problems touch."""
        return len({p.town for p in self.problems if p.town})

    @property
    def village_count(self) -> int:
        """How many villages the problems touch."""
        return len({(p.town, p.village) for p in self.problems if p.village})


class AlertColour(Labelled):
    """The warning light of an item: red overdue, orange due within days, yellow coming up."""

    RED = "red", "红色"
    ORANGE = "orange", "橙色"
    YELLOW = "yellow", "黄色"

# Cell shading for each light: light tints so black text stays legible when printed.
ALERT_COLOUR_FILLS: dict[AlertColour, str] = {
    AlertColour.RED: "F4B6B6",
    AlertColour.ORANGE: "F9D3A6",
    AlertColour.YELLOW: "FBEFA4",
}


@dataclass(frozen=True)
class ReminderItem:
    """One item in a 催办通知: near or past its deadline."""

    seq: int
    code: str
    town: str
    village: str
    description: str
    deadline: dt.date
    days_overdue: int  # working days; negative: working days left before the deadline
    colour: AlertColour

    @property
    def colour_label(self) -> str:
        """红色 / 橙色 / 黄色."""
        return self.colour.label

    @property
    def colour_fill(self) -> str:
        """Hex cell shading for the light."""
        return ALERT_COLOUR_FILLS[self.colour]

    @property
    def status_text(self) -> str:
        """逾期N个工作日 / 今日到期 / 剩余N个工作日 (the ladder counts working days)."""
        if self.days_overdue > 0:
            return f"逾期{self.days_overdue}个工作日"
        if self.days_overdue == 0:
            return "今日到期"
        return f"剩余{-self.days_overdue}个工作日"


@dataclass(frozen=True, kw_only=True)
class ReminderContext(OfficialDocument):
    """A 催办通知 to one office about its items near or past the deadline."""

    office: str  # 主送: the responsible office
    as_of: dt.date
    intro: str
    items: Sequence[ReminderItem]
    requirements: Sequence[Requirement] = ()

    @property
    def overdue_count(self) -> int:
        """Items past their deadline."""
        return sum(1 for i in self.items if i.days_overdue > 0)

    @property
    def due_soon_count(self) -> int:
        """Items not yet past their deadline."""
        return sum(1 for i in self.items if i.days_overdue <= 0)


@dataclass(frozen=True)
class BulletinItem:
    """One overdue problem named in a 通报."""

    code: str
    town: str
    village: str
    office: str
    description: str
    deadline: dt.date
    days_overdue: int


@dataclass(frozen=True)
class BulletinGroup:
    """Overdue items of one town or one office, with the count the 通报 names."""

    name: str
    items: Sequence[BulletinItem]

    @property
    def count(self) -> int:
        """Overdue items in the group."""
        return len(self.items)

    @property
    def max_days_overdue(self) -> int:
        """The longest overdue item, in days."""
        return max((i.days_overdue for i in self.items), default=0)


@dataclass(frozen=True, kw_only=True)
class BulletinContext(OfficialDocument):
    """A 通报 of overdue items, grouped by town and by responsible office."""

    addressee: str
    as_of: dt.date
    intro: str
    by_town: Sequence[BulletinGroup]
    by_office: Sequence[BulletinGroup]
    requirements: Sequence[Requirement] = ()

    @property
    def total_overdue(self) -> int:
        """Distinct overdue items (an item is in one town group and one office group)."""
        return len({i.code for g in self.by_office for i in g.items})

    @property
    def items(self) -> list[BulletinItem]:
        """Every overdue item once, by office then longest overdue first."""
        seen: set[str] = set()
        out: list[BulletinItem] = []
        for g in self.by_office:
            for i in sorted(g.items, key=lambda x: -x.days_overdue):
                if i.code not in seen:
                    seen.add(i.code)
                    out.append(i)
        return out


@dataclass(frozen=True)
class DailyRow:
    """One town's or office's progress on the report day."""

    name: str
    found: int  # 排查发现
    routed: int  # 已交办
    rectifying: int  # 整改中
    awaiting_review: int  # 待复核
    closed: int  # 已销号
    overdue: int  # 逾期
    closed_change: int = 0  # closed since yesterday
    rate_change: float = 0.0  # change of the closing rate since yesterday, in points (0.05 = 5 %)

    @property
    def rate(self) -> float:
        """Closing rate: closed / found (0 when nothing was found)."""
        return self.closed / self.found if self.found else 0.0

    @property
    def rate_text(self) -> str:
        """The closing rate as 85.0%."""
        return f"{self.rate * 100:.1f}%"

    @property
    def change_text(self) -> str:
        """Change since yesterday, closed items and rate points: +3件/+1.5点."""
        pts = self.rate_change * 100
        return f"{self.closed_change:+d}件/{pts:+.1f}点"


@dataclass(frozen=True)
class SeriesPoint:
    """Cumulative counts on one day, for the trend chart."""

    day: dt.date
    found: int
    closed: int
    overdue: int


def _total_row(name: str, rows: Sequence[DailyRow]) -> DailyRow:
    """Sum rows into a 合计 row; the rate change is recomputed from yesterday's totals."""
    found = sum(r.found for r in rows)
    closed = sum(r.closed for r in rows)
    closed_change = sum(r.closed_change for r in rows)
    # Yesterday's found is unknown per row; only closed changed, so compare at today's found.
    rate_change = (closed_change / found) if found else 0.0
    return DailyRow(
        name=name,
        found=found,
        routed=sum(r.routed for r in rows),
        rectifying=sum(r.rectifying for r in rows),
        awaiting_review=sum(r.awaiting_review for r in rows),
        closed=closed,
        overdue=sum(r.overdue for r in rows),
        closed_change=closed_change,
        rate_change=rate_change,
    )


@dataclass(frozen=True)
class SpotCheckRow:
    """One supervision group's spot checks (随机抽查) drawn for the report day."""

    group: str
    drawn: int
    passed: int
    failed: int

    @property
    def pending(self) -> int:
        """Drawn but not yet checked."""
        return self.drawn - self.passed - self.failed


@dataclass(frozen=True)
class SpotCheckFailure:
    """A spot check of the report day that failed: what, where, and the checker's note."""

    group: str
    kind: str  # 销号问题 / 农户 / 村 (the label)
    item: str  # the problem's code, the household head, or the village
    place: str  # 乡镇 + 村
    note: str


@dataclass(frozen=True)
class DutyUnitRow:
    """One unit's recurring duties on the report day (常态化工作)."""

    unit: str
    due: int  # due that day
    done: int  # of those, done
    missed: int  # past their day and still not done

    @property
    def undone(self) -> int:
        """Due that day and not done."""
        return self.due - self.done


@dataclass(frozen=True)
class LateMilestoneRow:
    """A milestone (整改节点) of an open problem past its date and not reached."""

    problem: str
    name: str
    date: dt.date
    office: str
    place: str


@dataclass(frozen=True, kw_only=True)
class DailyReportContext(OfficialDocument):
    """A daily 整改进度 report: rows per town, office and source, spot checks, a trend chart."""

    report_date: dt.date
    intro: str
    towns: Sequence[DailyRow]
    offices: Sequence[DailyRow]
    series: Sequence[SeriesPoint] = ()
    chart_title: str = "问题整改进度趋势"
    sources: Sequence[DailyRow] = ()  # one row per 问题来源
    spot_checks: Sequence[SpotCheckRow] = ()  # per supervision group, the report day's draw
    spot_check_failures: Sequence[SpotCheckFailure] = ()
    # Recurring duties and milestones: shown when the plan has any (duty_section).
    duty_section: bool = False
    duty_text: str = ""
    duty_units: Sequence[DutyUnitRow] = ()
    milestone_text: str = ""
    milestones_missed: Sequence[LateMilestoneRow] = ()
    # The closing report (总结报告): its spot checks and duties are the whole campaign's.
    whole_campaign: bool = False

    @property
    def period_word(self) -> str:
        """What the spot checks and duties cover: 当日, or 行动期间 in the closing report."""
        return "行动期间" if self.whole_campaign else "当日"

    @property
    def duty_heads(self) -> tuple[str, str, str, str]:
        """The duty table's four figure columns, in the report's period."""
        if self.whole_campaign:
            return ("应完成", "按时完成", "未按时完成", "仍未完成")
        return ("当日到期", "按时完成", "当日未完成", "累计逾期未完成")

    @property
    def source_total(self) -> DailyRow:
        """合计 row of the source table."""
        return _total_row("合计", self.sources)

    @property
    def spot_check_text(self) -> str:
        """One sentence on the period's spot checks: drawn, passed, failed, pending."""
        drawn = sum(g.drawn for g in self.spot_checks)
        if not drawn:
            return f"{self.period_word}未安排随机抽查。"
        passed = sum(g.passed for g in self.spot_checks)
        failed = sum(g.failed for g in self.spot_checks)
        return (f"{self.period_word}{len(self.spot_checks)}个督查组共抽查{drawn}项，合格{passed}项，"
                f"不合格{failed}项，待检查{drawn - passed - failed}项。")

    @property
    def failures_listed(self) -> Sequence[SpotCheckFailure]:
        """The failed spot checks listed in the document: all, but in a closing report only
        when they are few (the rest of the time its workbook lists them)."""
        if self.whole_campaign and len(self.spot_check_failures) > CLOSING_FAILURES_LISTED:
            return ()
        return self.spot_check_failures

    @property
    def failures_text(self) -> str:
        """The line before the failed spot checks, or where to find them."""
        if self.failures_listed:
            return "抽查不合格的事项如下："
        return (f"抽查不合格的{len(self.spot_check_failures)}项事项，逐项列于本报告所附"
                "Excel表的“随机抽查”工作表。")

    @property
    def town_total(self) -> DailyRow:
        """合计 row of the town table."""
        return _total_row("合计", self.towns)

    @property
    def office_total(self) -> DailyRow:
        """合计 row of the office table."""
        return _total_row("合计", self.offices)


@dataclass(frozen=True)
class ScoreLine:
    """One criterion of the monthly evaluation and the points a town got for it."""

    criterion: str
    score: float


@dataclass(frozen=True)
class RankingRow:
    """One town in the 月考评 table."""

    rank: int
    town: str
    scores: Sequence[ScoreLine]
    deduction: float = 0.0  # 扣分 (penalties, problems found by the supervision group)
    remark: str = ""

    @property
    def total(self) -> float:
        """Sum of the criteria less the deduction."""
        return round(sum(s.score for s in self.scores) - self.deduction, 2)

    @property
    def breakdown(self) -> str:
        """Criteria and scores in one cell: 排查 28 / 整改 35 …."""
        return " / ".join(f"{s.criterion}{_fmt_score(s.score)}" for s in self.scores)


def _fmt_score(x: float) -> str:
    """A score without a trailing .0."""
    return f"{x:g}"


def score_places(values: Sequence[float]) -> int:
    """Decimals a column of scores is printed with: as many as its most precise value needs,
    at most two, so that one column does not read 10.8 beside 11.21."""
    return max((len(f"{round(v, 2):.2f}".rstrip("0").partition(".")[2]) for v in values),
               default=0)


@dataclass(frozen=True)
class Penalty:
    """A penalty applied this month (e.g. 500 yuan per unrectified problem, seed 000)."""

    target: str
    reason: str
    amount_yuan: int


@dataclass(frozen=True, kw_only=True)
class RankingContext(OfficialDocument):
    """A monthly evaluation (月考评): ranking, commendations, the last place and penalties."""

    addressee: str
    year: int
    month: int
    intro: str
    rows: Sequence[RankingRow]
    commend_top: int = 3
    name_last: int = 1
    penalties: Sequence[Penalty] = ()
    requirements: Sequence[Requirement] = ()
    # Who the ranking commends and names, when it says (towns tied across a cut are neither);
    # None: by rank alone.
    commended_towns: Sequence[str] | None = None
    named_towns: Sequence[str] | None = None
    # What is ranked, as the table's heading names it: 责任单位 for a ranking of offices;
    # empty: the plan's town-level places (place_word).
    unit_label: str = ""

    @property
    def deduction_places(self) -> int:
        """Decimals of the 扣分 column (one for every row)."""
        return score_places([r.deduction for r in self.rows])

    @property
    def total_places(self) -> int:
        """Decimals of the 总分 column (one for every row)."""
        return score_places([r.total for r in self.rows])

    @property
    def ranked_unit(self) -> str:
        """The heading of the ranked names' column."""
        return self.unit_label or self.place_word

    @property
    def commended(self) -> list[str]:
        """Towns in the top `commend_top` ranks (表彰)."""
        if self.commended_towns is not None:
            return list(self.commended_towns)
        return [r.town for r in sorted(self.rows, key=lambda r: r.rank)[: self.commend_top]]

    @property
    def named_last(self) -> list[str]:
        """Towns in the last `name_last` ranks (大会检讨发言)."""
        if self.named_towns is not None:
            return list(self.named_towns)
        if self.name_last <= 0:
            return []
        return [r.town for r in sorted(self.rows, key=lambda r: r.rank)[-self.name_last :]]

    @property
    def penalty_total(self) -> int:
        """Sum of the penalties in yuan."""
        return sum(p.amount_yuan for p in self.penalties)


@dataclass(frozen=True)
class LedgerItem:
    """One problem as the printed 整改台账 lists it, in words."""

    code: str
    town: str
    village: str
    category: str
    description: str
    office: str  # 牵头责任单位
    status: str  # 整改中, 已销号 …
    deadline: dt.date | None = None
    closed_on: dt.date | None = None
    overdue: bool = False

    @property
    def location(self) -> str:
        """乡镇（村）as one cell."""
        return f"{self.town}{self.village}"


@dataclass(frozen=True, kw_only=True)
class LedgerContext(OfficialDocument):
    """The 整改台账 printed (横排 A4 table, GB/T 9704 section 8): no 文号, no 版记."""

    as_of: dt.date  # 截至
    scope: str  # 全县, or the town the ledger is printed for
    items: Sequence[LedgerItem]

    @property
    def total(self) -> int:
        """Problems listed."""
        return len(self.items)

    @property
    def closed(self) -> int:
        """Problems closed (销号)."""
        return sum(1 for i in self.items if i.closed_on is not None)

    @property
    def overdue_count(self) -> int:
        """Open problems past their deadline on `as_of`."""
        return sum(1 for i in self.items if i.overdue)
