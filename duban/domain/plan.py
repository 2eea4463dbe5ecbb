"""The campaign plan: what a county office decides before a campaign starts.

These are frozen dataclasses only; the rules spanning sections and the lint live in
`duban.domain.plan_check`, reading the YAML/JSON wire format and the stored form in
`duban.adapters.plan`. Everything here is standard library so the core stays pure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class StageKind(StrEnum):
    """The typed period a stage stands for (动员 / 排查 / 整改 / 复核提升)."""

    MOBILISE = "mobilise"  # 动员部署
    INVESTIGATE = "investigate"  # 排查
    RECTIFY = "rectify"  # 整改
    REVIEW = "review"  # 复核 · 提升 · 迎检


STAGE_KIND_LABELS: dict[StageKind, str] = {
    StageKind.MOBILISE: "动员",
    StageKind.INVESTIGATE: "排查",
    StageKind.RECTIFY: "整改",
    StageKind.REVIEW: "复核提升",
}


class OfficeLevel(StrEnum):
    """Where an office sits: a county department, a town office, or a village."""

    COUNTY = "county"  # 县直部门 / 县级办室
    TOWN = "town"  # 乡镇办室
    VILLAGE = "village"  # 村两委 / 驻村工作队


OFFICE_LEVEL_LABELS: dict[OfficeLevel, str] = {
    OfficeLevel.COUNTY: "县直部门",
    OfficeLevel.TOWN: "乡镇办室",
    OfficeLevel.VILLAGE: "村",
}

# In a routing rule's co-offices, this token means "the problem's own village" (各村).
OWN_VILLAGE = "各村"
# In a routing rule, as lead or co-office, this token means "the problem's own town" (各乡镇): the
# one town-level office whose `town` is the problem's town (seed 002 sends notices to 相关部门和
# 乡镇; seed 001's data-quality items are led by each 乡镇（街道）).
OWN_TOWN = "各乡镇"


@dataclass(frozen=True)
class Stage:
    """One working stage of a campaign; stages may overlap.

    `end` None: the stage has no set end (seed 004's 驻点督查, "适时调整") and runs until the
    campaign is closed.
    """

    kind: StageKind
    name: str
    start: dt.date
    end: dt.date | None = None

    def covers(self, day: dt.date) -> bool:
        """Whether the stage runs on `day`."""
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Village:
    """A village (行政村) in scope."""

    code: str
    name: str
    # Other words people write for it (住房 for 住房安全), matched by duban.domain.names.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Town:
    """A town, township, street or development zone (乡镇 / 街道 / 开发区) in scope."""

    code: str
    name: str
    villages: tuple[Village, ...] = ()
    # The county unit that 包保 (answers for) the town (seed 004: "联系该乡镇（开发区）的县直单位"),
    # named beside the town when it is bulletined (一票否决); an office code, "" for none.
    liaison: str = ""
    # Other words people write for it (住房 for 住房安全), matched by duban.domain.names.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contact:
    """A person an office can be reached through."""

    name: str
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class Office:
    """A responsible office (责任办室 / 责任单位)."""

    code: str
    name: str
    level: OfficeLevel
    town: str | None = None  # town code, for town- and village-level offices
    head: str = ""  # the office head, who receives 督办 escalations
    contacts: tuple[Contact, ...] = ()
    webhook: str = ""  # DingTalk / WeCom robot address, optional
    # Other words people write for it (住房 for 住房安全), matched by duban.domain.names.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Category:
    """A problem category (问题类别), e.g. 住房安全."""

    code: str
    name: str
    group: str = ""  # the heading it is reported under, e.g. 两不愁 / 三保障; "" for none
    # Other words people write for it (住房 for 住房安全), matched by duban.domain.names.
    aliases: tuple[str, ...] = ()
    # The 整改要求 a 督办通知书 states for problems of this category; "" for the general one.
    requirement: str = ""


@dataclass(frozen=True)
class Source:
    """Where problems come from (问题来源), e.g. 入户排查, 巡视."""

    code: str
    name: str
    # Other words people write for it (住房 for 住房安全), matched by duban.domain.names.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoutingRule:
    """Route problems matching category/source/town to a lead office plus co-offices.

    Empty match tuples mean "any". `co_offices` may contain OWN_VILLAGE and OWN_TOWN; `office`
    may be OWN_TOWN.
    Rules are tried in order; the first match wins.
    """

    office: str  # lead office code
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    towns: tuple[str, ...] = ()
    co_offices: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeadlineTier:
    """A named deadline tier: N working days, or a fixed date node (7月底)."""

    code: str
    name: str
    working_days: int | None = None
    date: dt.date | None = None


@dataclass(frozen=True)
class Milestone:
    """A dated step of a problem before or at its deadline (seed 001: 开工 by 9/15, 完工 11月底)."""

    code: str
    name: str
    date: dt.date


@dataclass(frozen=True)
class DeadlineRule:
    """A fixed deadline (or tier) for problems matching category/source; first match wins.

    `stages` (stage names) and `found_from`/`found_to` narrow a rule to problems found in those
    stages or that date range (seed 002: 提升阶段's finds are not bound by the 10/20 date).
    A rule may give milestones; without a date, tier or working days its deadline is the
    last milestone.
    """

    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    tier: str | None = None  # a tier code
    date: dt.date | None = None
    working_days: int | None = None
    stages: tuple[str, ...] = ()  # stage names; empty: any
    found_from: dt.date | None = None  # inclusive
    found_to: dt.date | None = None  # inclusive
    milestones: tuple[Milestone, ...] = ()


class DeadlineBasis(StrEnum):
    """The day working-day deadlines count from."""

    FOUND = "found"  # 发现之日 (the default: the plans say "发现问题后N个工作日")
    ROUTED = "routed"  # 交办之日: the day the problem is routed to its office
    SIGNED = "signed"  # 签收之日: the day its office signs for the 督办通知书 listing it


DEADLINE_BASIS_LABELS: dict[DeadlineBasis, str] = {
    DeadlineBasis.FOUND: "发现之日",
    DeadlineBasis.ROUTED: "交办之日",
    DeadlineBasis.SIGNED: "签收督办通知书之日",
}
DEEMED_SIGNED_LABEL = "督办通知书视为签收之日"


@dataclass(frozen=True)
class DeadlinePolicy:
    """How a problem's deadline (整改时限) is set."""

    default_working_days: int = 10
    tiers: tuple[DeadlineTier, ...] = ()
    rules: tuple[DeadlineRule, ...] = ()
    cap_at_rectify_end: bool = True  # never later than the end of the rectification stage
    basis: DeadlineBasis = DeadlineBasis.FOUND
    # Under basis SIGNED: a notice not signed for within this many working days of its issue
    # is deemed signed (视为签收) then, so an office cannot stop its deadlines by not signing.
    deemed_signed_after_working_days: int = 3


@dataclass(frozen=True)
class HouseholdDraw:
    """A further daily household draw with its own purpose (seed 004: 5 户 专班排查入户)."""

    code: str
    name: str
    households: int


@dataclass(frozen=True)
class SpotCheckQuota:
    """What one supervision group must spot-check each day (seed 004)."""

    closed_problems: int = 5
    households: int = 10
    villages: int = 0
    # Seed 004 counts households per purpose: 10 帮扶走访 (`households`), 5 专班排查, 10 人居环境.
    more_households: tuple[HouseholdDraw, ...] = ()
    # Villages in scope with no registered household may be drawn too (a village check looks at
    # the village, not at its register).
    villages_without_households: bool = False


@dataclass(frozen=True)
class SupervisionGroup:
    """A supervision group (督查组) and the towns it covers (empty: all)."""

    code: str
    name: str
    towns: tuple[str, ...] = ()
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewPolicy:
    """How items are reviewed (复核) and sampled (随机抽查)."""

    groups: tuple[SupervisionGroup, ...] = ()
    quota: SpotCheckQuota = field(default_factory=SpotCheckQuota)
    reviewer_level: OfficeLevel = OfficeLevel.COUNTY
    rectify_days_after_failed_review: int = 5
    # The source (code) of problems a failed household / village spot check records; None:
    # the first source named with 抽查, else 督查, else 督导.
    spot_check_source: str | None = None
    # 谁排查、谁整改、谁督查 sign separately: whoever passed the review may not also close it.
    three_signatures: bool = False


class Audience(StrEnum):
    """Who a reminder rung is addressed to."""

    OFFICE = "office"  # the lead office's contacts
    OFFICE_HEAD = "office_head"  # the office head
    COUNTY = "county"  # the county office / leading group office


class RungAction(StrEnum):
    """What a rung of the reminder ladder does."""

    REMIND = "remind"  # 提醒
    DUE = "due"  # 到期提醒
    URGE = "urge"  # 催办通知
    SUPERVISE = "supervise"  # 督办
    BULLETIN = "bulletin"  # 通报


@dataclass(frozen=True)
class ReminderRung:
    """One rung: fires at an offset in working days from the deadline, or at a share left.

    Exactly one of `offset_working_days` (negative: before the deadline) and `share_left`
    (0.30 = when 30% of the allowed time is left) is set.
    """

    code: str
    name: str
    action: RungAction
    offset_working_days: int | None = None
    share_left: float | None = None
    audience: tuple[Audience, ...] = (Audience.OFFICE,)
    colour: str = ""  # "", yellow, orange, red
    accrue_penalty: bool = False


@dataclass(frozen=True)
class ReminderPolicy:
    """The reminder and escalation ladder (催办 · 督办) and when messages may go out."""

    rungs: tuple[ReminderRung, ...] = ()
    work_start: dt.time = dt.time(8, 30)
    work_end: dt.time = dt.time(17, 30)
    remind_unacknowledged_after_working_days: int = 1


class PenaltyBasis(StrEnum):
    """What a penalty is counted per."""

    PROBLEM = "problem"
    HOUSEHOLD = "household"


@dataclass(frozen=True)
class PenaltyRule:
    """A fine for items not rectified on time (seed 000: 500 per item, 2000 per unsafe house)."""

    code: str
    name: str
    amount_yuan: int
    basis: PenaltyBasis = PenaltyBasis.PROBLEM
    categories: tuple[str, ...] = ()  # empty: any category not matched by a narrower rule


class TieRule(StrEnum):
    """What a ranking does with units tied on score (并列) that the commendation or the 末位
    line cuts through: the whole tie group is commended (named), or none of it is."""

    WHOLE = "whole"  # 并列者一并表扬（一并列为末位）
    NONE = "none"  # 并列者均不表扬（均不列为末位）


@dataclass(frozen=True)
class RankingPolicy:
    """Monthly evaluation (月考评) of towns."""

    commend_top: int = 3
    name_bottom: int = 1
    by: str = "town"  # "town" or "office"
    failed_check_points: int = 2  # points lost per failed household / village spot check
    ties: TieRule = TieRule.WHOLE  # a tie group across the commendation or 末位 line
    # A unit with no problems in the month is listed apart (本月无问题), not ranked first by a
    # 100 % closure rate, unless the plan says to rank it.
    rank_without_problems: bool = False


class ReportAudience(StrEnum):
    """A group of offices a report is delivered to; a plan may also name single offices."""

    COUNTY = "county"  # the county office (领导小组办公室) and its head
    TOWNS = "towns"  # every town-level office (各乡镇)
    OFFICES = "offices"  # every county department other than the county office (各部门)


class Channel(StrEnum):
    """How a message reaches an office."""

    INBOX = "inbox"  # 站内信
    EMAIL = "email"  # 电子邮件, to the office's contacts and users
    WEBHOOK = "webhook"  # 钉钉 / 企业微信 robot


ALL_CHANNELS = (Channel.INBOX, Channel.EMAIL, Channel.WEBHOOK)


@dataclass(frozen=True)
class ReportSchedule:
    """When the daily report is written, when the month closes, and who receives both.

    `daily_to` and `ranking_to` hold ReportAudience values and office codes.
    """

    daily_at: dt.time = dt.time(17, 0)
    monthly_day: int = 1
    daily_to: tuple[str, ...] = (ReportAudience.COUNTY.value,)
    ranking_to: tuple[str, ...] = (ReportAudience.COUNTY.value,)
    channels: tuple[Channel, ...] = ALL_CHANNELS


class CoOfficeNotice(StrEnum):
    """What a co-office (协办) receives when the lead office gets its 督办通知书."""

    OWN = "own"  # its own numbered notice listing the problems it rectifies with the lead
    COPY = "copy"  # named in the lead's notice's 抄送 line, with a message and the file
    NONE = "none"  # nothing


@dataclass(frozen=True)
class CoOfficeNotices:
    """What co-offices of each level receive."""

    county: CoOfficeNotice = CoOfficeNotice.COPY
    town: CoOfficeNotice = CoOfficeNotice.COPY
    village: CoOfficeNotice = CoOfficeNotice.NONE

    def of(self, level: OfficeLevel | str) -> CoOfficeNotice:
        """The treatment of a co-office of this level."""
        return getattr(self, OfficeLevel(level).value)


class NoticeRhythm(StrEnum):
    """When problems found after the rectify stage started go out on notices."""

    DAILY = "daily"  # each working day, the new items per office (滚动下发)
    WEEKLY = "weekly"  # once a week, on `weekday` (or the next working day)
    MANUAL = "manual"  # only when the county office issues them by hand


@dataclass(frozen=True)
class NoticePolicy:
    """Who receives 督办通知书 besides the lead office, and the rhythm for late problems.

    `at` None means the reminders' `work_start`; `weekday` is 1 (Monday, the default) to 7
    (Sunday) and only set for a weekly rhythm.
    """

    co_offices: CoOfficeNotices = field(default_factory=CoOfficeNotices)
    rolling: NoticeRhythm = NoticeRhythm.DAILY
    weekday: int | None = None
    at: dt.time | None = None

    @property
    def week_day(self) -> int:
        """The ISO weekday of a weekly round (1 = Monday)."""
        return self.weekday or 1


class FieldType(StrEnum):
    """The kind of value a plan-defined household fact holds."""

    CHOICE = "choice"  # one of the allowed values (or several, with `multiple`)
    YES_NO = "yes_no"  # 是 / 否
    INTEGER = "integer"
    DATE = "date"  # stored as 2022-05-06
    TEXT = "text"


FIELD_TYPE_LABELS: dict[FieldType, str] = {
    FieldType.CHOICE: "选项",
    FieldType.YES_NO: "是/否",
    FieldType.INTEGER: "整数",
    FieldType.DATE: "日期",
    FieldType.TEXT: "文本",
}


@dataclass(frozen=True)
class HouseholdField:
    """A household fact the plan adds to the register (seed 004: 边缘户类型; seed 003: 改厕意愿).

    `label` is the register's column header and what people see; `values` are the allowed
    values of a choice, `multiple` lets one household hold several of them (an 边缘户 can be
    重病户 and 残疾人户 at once). `minimum`/`maximum` bound an integer.
    """

    key: str
    label: str
    type: FieldType
    values: tuple[str, ...] = ()
    multiple: bool = False
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    note: str = ""  # a line for the template's notes (填写说明)


@dataclass(frozen=True)
class HouseholdPolicy:
    """The household facts a plan defines beyond the register's fixed columns."""

    fields: tuple[HouseholdField, ...] = ()

    def by_key(self, key: str) -> HouseholdField | None:
        """The field with this key."""
        return next((f for f in self.fields if f.key == key), None)


PHOTO_TYPES: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png"}
PHOTO_TYPE_LABELS: dict[str, str] = {"jpeg": "JPEG", "png": "PNG"}


@dataclass(frozen=True)
class VisitPolicy:
    """What a visit recorded on a phone must carry (issue 18): the household's signature when
    the plan asks for it (谁排查谁签字, seed 002), and the photos' largest size and kinds."""

    household_signature: bool = False
    photo_max_kb: int = 2048  # after the phone has resized it
    photo_types: tuple[str, ...] = ("jpeg", "png")  # keys of PHOTO_TYPES
    max_photos: int = 6


class ConditionTest(StrEnum):
    """How a detection condition tests one household fact."""

    IS = "is"  # the value is one of `values`
    IS_NOT = "is_not"  # the value is filled and none of `values`
    HAS = "has"  # a multiple choice holds at least one of `values`
    LACKS = "lacks"  # a multiple choice holds none of `values`
    BLANK = "blank"  # nothing recorded
    FILLED = "filled"  # something recorded
    BELOW = "below"  # an integer under `number`
    AT_LEAST = "at_least"  # an integer of at least `number`
    BEFORE = "before"  # a date earlier than `date`, or than the detection day (检查日)
    NOT_BEFORE = "not_before"  # a date on or after `date`, or the detection day (检查日)


# The tests that compare a date field with a fixed date or the detection day.
DATE_TESTS = frozenset({ConditionTest.BEFORE, ConditionTest.NOT_BEFORE})
# What a condition calls the day the 排查 stage detects (FactCondition.date None).
CHECK_DAY = "检查日"


@dataclass(frozen=True)
class FactCondition:
    """One test on a household fact: a plan-defined field or a fixed register column (by key).

    `values` serve is/is_not/has/lacks, `number` below/at_least; `date` is what before and
    not_before compare a date field with: a fixed day, or None for the day detection runs
    (检查日: seed 003's 贷款到期 is "到期日早于检查日").
    """

    field: str
    test: ConditionTest
    values: tuple[str, ...] = ()
    number: int | None = None
    date: dt.date | None = None


@dataclass(frozen=True)
class DetectionRule:
    """A rule that turns household facts into a problem of a category.

    A built-in rule names a code of duban.domain.detection.RULE_CODES; a plan's own rule has
    its own code, a `name` and `when`: conditions that must all hold.
    """

    code: str
    category: str  # category code the detected problem gets
    enabled: bool = True
    name: str = ""
    when: tuple[FactCondition, ...] = ()


@dataclass(frozen=True)
class DetectionPolicy:
    """Household-fact rules and the monitoring income line (监测线)."""

    monitoring_line_yuan: int = 6900
    rules: tuple[DetectionRule, ...] = ()
    source: str = ""  # source code detected problems get (入户排查)


class Recurrence(StrEnum):
    """How often a recurring duty (常态化工作) falls due."""

    DAILY = "daily"  # 每天 / 每晚
    WEEKLY = "weekly"  # 每周, on a weekday
    MONTHLY = "monthly"  # 每月, on a day of the month
    ONCE = "once"  # 一次, by a date


RECURRENCE_LABELS: dict[Recurrence, str] = {
    Recurrence.DAILY: "每天",
    Recurrence.WEEKLY: "每周",
    Recurrence.MONTHLY: "每月",
    Recurrence.ONCE: "一次",
}

WEEKDAY_LABELS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


@dataclass(frozen=True)
class Duty:
    """A recurring duty assigned to units: 走访, 会商, 报送 (seeds 001-004).

    `units` holds office codes and the tokens OWN_TOWN (each town's town-level office) and
    OWN_VILLAGE (each village, answered by its town's town-level office). `weekday` is 1
    (Monday) to 7; `day` 1 to 31 (a short month uses its last day). With `working_days`, a
    daily duty falls on working days only and any other due day on a rest day moves to the
    next working day (顺延). The report is due `within_working_days` after the due day.
    """

    code: str
    name: str
    units: tuple[str, ...]
    recurrence: Recurrence
    weekday: int | None = None
    day: int | None = None
    date: dt.date | None = None
    start: dt.date | None = None  # default: the campaign's start
    end: dt.date | None = None  # default: the campaign's end
    working_days: bool = False
    within_working_days: int = 0


@dataclass(frozen=True)
class DocumentPolicy:
    """Who the campaign's official documents come from and who else gets them (GB/T 9704).

    Empty fields fall back (see the Plan properties): the 发文机关 to the plan's `issuer_short`,
    else its `issuer`; the 发文机关标志 and the 印发机关 to the 发文机关; the 附注's contact to
    the county office's first contact.
    """

    issuer: str = ""  # 发文机关: the 署名 under every document
    mark: str = ""  # 发文机关标志: the red name at the top
    printer: str = ""  # 印发机关 in the 版记
    copy_to: tuple[str, ...] = ()  # 抄送机关 of every document
    contact: Contact | None = None  # 附注: （联系人：…，联系电话：…）


@dataclass(frozen=True)
class Plan:
    """A whole campaign plan, validated."""

    name: str
    issuer: str  # 发文机关
    document_number: str  # 文号 of the plan itself
    notice_prefix: str  # 文号 prefix for supervision notices, e.g. 沈巩督
    county_office: str  # the code of the office that runs the campaign
    stages: tuple[Stage, ...]
    towns: tuple[Town, ...]
    offices: tuple[Office, ...]
    categories: tuple[Category, ...]
    sources: tuple[Source, ...]
    routing: tuple[RoutingRule, ...]
    deadlines: DeadlinePolicy
    review: ReviewPolicy
    reminders: ReminderPolicy
    penalties: tuple[PenaltyRule, ...]
    ranking: RankingPolicy
    reports: ReportSchedule
    detection: DetectionPolicy
    issuer_short: str = ""  # 发文机关标志 line on notices, defaults to issuer
    issued_on: dt.date | None = None  # 成文日期 of the plan document, when it states one
    duties: tuple[Duty, ...] = ()  # recurring duties (常态化工作)
    notices: NoticePolicy = field(default_factory=NoticePolicy)
    household: HouseholdPolicy = field(default_factory=HouseholdPolicy)
    visits: VisitPolicy = field(default_factory=VisitPolicy)
    documents: DocumentPolicy = field(default_factory=DocumentPolicy)

    @property
    def document_issuer(self) -> str:
        """The 发文机关 that signs the campaign's documents."""
        return self.documents.issuer or self.issuer_short or self.issuer

    @property
    def document_mark(self) -> str:
        """The 发文机关标志 printed in red at the top of the campaign's documents."""
        return self.documents.mark or self.document_issuer

    @property
    def document_printer(self) -> str:
        """The 印发机关 named in the 版记."""
        return self.documents.printer or self.document_issuer

    def category_requirement(self, code: str) -> str:
        """The 整改要求 the plan states for a category ("" when it states none)."""
        return next((c.requirement for c in self.categories if c.code == code), "")

    def stage(self, kind: StageKind) -> Stage | None:
        """The first stage of a kind, if the plan has one."""
        return next((s for s in self.stages if s.kind == kind), None)

    def duty(self, code: str) -> Duty | None:
        """The duty with this code."""
        return next((d for d in self.duties if d.code == code), None)

    def office(self, code: str) -> Office | None:
        """The office with this code."""
        return next((o for o in self.offices if o.code == code), None)

    def town_office(self, town: str) -> Office | None:
        """The one town-level office of a town, which the OWN_TOWN token (各乡镇) stands for."""
        found = [o for o in self.offices if o.level is OfficeLevel.TOWN and o.town == town]
        return found[0] if len(found) == 1 else None

    @property
    def start(self) -> dt.date:
        """The first day of the campaign."""
        return min(s.start for s in self.stages)

    @property
    def end(self) -> dt.date | None:
        """The last day of the campaign; None when a stage runs until the campaign is closed."""
        if any(s.end is None for s in self.stages):
            return None
        return max(s.end for s in self.stages if s.end is not None)

    @property
    def last_dated_day(self) -> dt.date:
        """The latest day a stage names (its end, or its start when it has none)."""
        return max(s.end or s.start for s in self.stages)


# Words for kinds of town-level place other than 乡镇 (seed 001: 街道; seed 002: 办事处; seed
# 004: 开发区), in the order documents name them.
OTHER_PLACE_WORDS = ("街道", "办事处", "开发区")


def towns_addressee(plan: Plan) -> str:
    """How a county document addresses every town in scope: 各乡镇, with the other kinds of
    place the scope has (各乡镇（开发区）, 各乡镇（街道）); a one-town plan addresses its villages."""
    if len(plan.towns) == 1:
        return "各村（社区）"
    return f"各{towns_word(plan)}"


def towns_word(plan: Plan) -> str:
    """What the documents call the plan's town-level places: 乡镇, with the other kinds the
    scope has (乡镇（开发区）, 乡镇（街道、办事处）), as table headings and counts name them."""
    others = [w for w in OTHER_PLACE_WORDS if any(t.name.endswith(w) for t in plan.towns)]
    return f"乡镇（{'、'.join(others)}）" if others else "乡镇"


def area_word(plan: Plan) -> str:
    """The whole area a campaign covers, as 全县 / 全乡 / 全镇 say it: a one-town plan's town
    (沧沟乡: 全乡), else the county."""
    if len(plan.towns) == 1:
        return f"全{plan.towns[0].name[-1:]}"
    return "全县"
