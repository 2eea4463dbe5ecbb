"""Built-in problem categories and sources with Chinese description templates.

Templates are `str.format` strings whose slots (`{head}`, `{income}`, `{village}` …) are filled
from the household's facts and seeded random details; see `duban.synth.slots` for the slot list.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    """What a problem is about: one household, a village, or a whole town."""

    HOUSEHOLD = "household"
    VILLAGE = "village"
    TOWN = "town"


class Needs(StrEnum):
    """Which households a household-scope template fits."""

    ANY = "any"
    REGISTERED = "registered"  # 建档立卡脱贫户 or 监测对象
    MONITORED = "monitored"  # 监测对象 only
    CHILDREN = "children"  # has school-age children


class Channel(StrEnum):
    """How a source finds problems."""

    VISIT = "visit"  # 入户排查 / 走访
    SECTOR = "sector"  # 行业排查
    EXTERNAL = "external"  # 巡视, 考核, 督查, 审计, 暗访, 信访 …


@dataclass(frozen=True, slots=True)
class ProblemTemplate:
    """One description template of a category."""

    text: str
    scope: Scope = Scope.HOUSEHOLD
    needs: Needs = Needs.ANY


@dataclass(frozen=True, slots=True)
class BuiltinName:
    """A built-in category or source: default code, Chinese name, names it also goes by."""

    code: str
    name: str
    aliases: tuple[str, ...] = ()
    weight: int = 1  # relative share among generated problems


@dataclass(frozen=True, slots=True)
class BuiltinSource:
    """A built-in problem source and the channel it finds problems through."""

    code: str
    name: str
    channel: Channel
    aliases: tuple[str, ...] = ()
    weight: int = 1


def _h(text: str, needs: Needs = Needs.ANY) -> ProblemTemplate:
    return ProblemTemplate(text, Scope.HOUSEHOLD, needs)


def _v(text: str) -> ProblemTemplate:
    return ProblemTemplate(text, Scope.VILLAGE)


def _t(text: str) -> ProblemTemplate:
    return ProblemTemplate(text, Scope.TOWN)


_REG = Needs.REGISTERED
_MON = Needs.MONITORED
_KID = Needs.CHILDREN

# Built-in categories, in the order DOMAIN.md lists them, with the default codes used when the
# caller passes no plan codes.
BUILTIN_CATEGORIES: tuple[BuiltinName, ...] = (
    BuiltinName("basic_needs", "两不愁", ("吃穿", "两不愁保障"), 3),
    BuiltinName("education", "义务教育", ("教育", "控辍保学", "教育保障"), 3),
    BuiltinName("medical", "基本医疗", ("医疗", "健康", "医疗保障", "健康扶贫"), 7),
    BuiltinName("housing", "住房安全", ("住房", "危房改造", "住房保障"), 10),
    BuiltinName("water", "饮水安全", ("饮水", "供水", "安全饮水"), 6),
    BuiltinName("industry", "产业", ("产业发展", "产业帮扶", "村集体经济"), 6),
    BuiltinName("employment", "就业", ("稳岗就业", "就业帮扶", "公益性岗位"), 7),
    BuiltinName("credit", "小额信贷", ("金融", "金融支持", "金融扶贫", "信贷"), 5),
    BuiltinName("relocation", "搬迁", ("易地搬迁", "易地扶贫搬迁", "搬迁后续扶持"), 2),
    BuiltinName("social_assistance", "兜底保障", ("兜底", "兜底救助", "社会保障", "社会救助"), 6),
    BuiltinName("environment", "人居环境", ("环境卫生", "人居环境整治"), 9),
    BuiltinName("toilets", "厕所革命", ("户厕", "改厕", "农村改厕"), 6),
    BuiltinName("records", "档案资料", ("档案", "数据质量", "识别退出", "信息数据"), 12),
    BuiltinName("resident_team", "驻村帮扶", ("驻村工作队", "帮扶责任", "驻村"), 4),
    BuiltinName("petitions", "信访舆情", ("信访", "舆情"), 2),
    BuiltinName("projects", "项目资金", ("项目", "资金", "扶贫项目", "衔接资金"), 4),
    BuiltinName("monitoring", "监测帮扶", ("防返贫监测", "动态监测", "监测对象", "监测"), 8),
    BuiltinName("motivation", "内生动力", ("扶志扶智", "宣传"), 2),
    BuiltinName("responsibility", "责任落实", ("主体责任", "作风"), 3),
)

# fmt: off
BUILTIN_SOURCES: tuple[BuiltinSource, ...] = (
    BuiltinSource("visit", "入户排查", Channel.VISIT, ("走访", "入户走访", "大走访", "走访排查", "入户"), 1),
    BuiltinSource("sector", "行业排查", Channel.SECTOR, ("行业部门排查", "部门排查", "行业自查"), 1),
    BuiltinSource("inspection", "巡视", Channel.EXTERNAL, ("巡察", "巡视巡察", "专项巡视"), 10),
    BuiltinSource("inspection_followup", "巡视回头看", Channel.EXTERNAL, ("回头看",), 4),
    BuiltinSource("assessment", "成效考核", Channel.EXTERNAL, ("考核", "考核评估", "后评估"), 12),
    BuiltinSource("supervision", "督查", Channel.EXTERNAL, ("督导", "督查检查"), 14),
    BuiltinSource("audit", "审计", Channel.EXTERNAL, ("专项审计",), 6),
    BuiltinSource("undercover", "暗访", Channel.EXTERNAL, ("明察暗访",), 8),
    BuiltinSource("census", "普查", Channel.EXTERNAL, ("脱贫攻坚普查",), 3),
    BuiltinSource("petition", "信访", Channel.EXTERNAL, ("群众信访", "来信来访"), 6),
    BuiltinSource("media", "媒体", Channel.EXTERNAL, ("媒体舆情", "网络舆情"), 2),
)

# fmt: on

# Share of generated (not fact-based) problems per channel.
CHANNEL_WEIGHTS: dict[Channel, float] = {
    Channel.VISIT: 0.40,
    Channel.SECTOR: 0.30,
    Channel.EXTERNAL: 0.30,
}

# How often each scope is chosen per channel (household / village / town).
SCOPE_WEIGHTS: dict[Channel, tuple[float, float, float]] = {
    Channel.VISIT: (0.90, 0.10, 0.0),
    Channel.SECTOR: (0.40, 0.45, 0.15),
    Channel.EXTERNAL: (0.35, 0.45, 0.20),
}

# Sources that lean towards some categories (multipliers on the category weight).
SOURCE_AFFINITY: dict[str, dict[str, int]] = {
    "审计": {"项目资金": 6, "小额信贷": 3, "产业": 2},
    "信访": {"信访舆情": 12, "兜底保障": 2},
    "媒体": {"信访舆情": 15},
    "暗访": {"驻村帮扶": 3, "人居环境": 2},
    "普查": {"档案资料": 2, "两不愁": 2},
    "巡视": {"责任落实": 3, "项目资金": 2},
    "巡视回头看": {"责任落实": 3, "监测帮扶": 2},
    "成效考核": {"监测帮扶": 2, "档案资料": 2},
}

CATEGORY_TEMPLATES: dict[str, tuple[ProblemTemplate, ...]] = {
    "两不愁": (
        _h("{head}户{members}口人，家中存粮不足，冬季衣被单薄"),
        _h("{head}户家中无劳动力，主要靠养老金和低保维持生活，“两不愁”保障水平偏低"),
        _h(
            "{head}户因{illness}长期服药，刚性支出大，{lastyear}年家庭人均纯收入较上年下降{percent}%"
        ),
        _h("{head}户家中缺少基本生活用品，床上用品破旧，未见过冬衣物"),
        _h("{head}户老人{member}独自居住，日常饮食无人照料，一日三餐不规律"),
        _v("{village}有{count}户独居老人生活保障情况未纳入帮扶责任人走访内容"),
        _v("{village}有{count}户脱贫户{lastyear}年人均纯收入增幅低于全县农村居民平均水平"),
    ),
    "义务教育": (
        _h(
            "{head}户有适龄儿童{children}人，其中{member}自{month}月起未到校上课，存在辍学风险",
            _KID,
        ),
        _h(
            "{head}户子女{member}在{school}就读，{lastyear}年秋季学期教育资助{amount}元未发放到位",
            _KID,
        ),
        _h("{head}户残疾儿童{member}不具备入学条件，未落实“送教上门”", _KID),
        _h("{head}户对“雨露计划”政策不知晓，子女就读中职未申请补助", _REG),
        _h("{head}户子女{member}随父母在{place}就读，学籍信息未及时核实", _KID),
        _v("{school}控辍保学台账未及时更新，{count}名学生去向未核实"),
        _v("{village}{count}名义务教育阶段脱贫家庭学生未纳入教育资助系统"),
        _t("{town}义务教育阶段劝返复学学生跟踪帮扶记录缺失"),
    ),
    "基本医疗": (
        _h("{head}户家庭成员{member}未参加{year}年度城乡居民基本医疗保险"),
        _h("{head}户患{illness}，慢性病卡未办理，门诊费用无法报销", _REG),
        _h("{head}户{member}住院费用{cost}元，医疗救助未及时落实，自付比例偏高", _REG),
        _h("{head}户未签约家庭医生，或签约后未提供履约服务"),
        _h("{head}户对“先诊疗后付费”“一站式结算”政策不知晓", _REG),
        _h("{head}户{member}患{illness}，大病专项救治未落实"),
        _v("{village}卫生室乡村医生空缺，村民就医需到{town}卫生院"),
        _v("{village}有{count}名脱贫人口大病专项救治信息未录入系统"),
        _t("{town}卫生院未设置脱贫人口综合服务窗口"),
    ),
    "住房安全": (
        _h("{head}户危房改造已竣工，补助资金{subsidy}元未兑现到户"),
        _h("{head}户改造后旧房未拆除，存在人住危房隐患"),
        _h("{head}户房屋屋面漏雨、墙体开裂，住房安全等级标识牌与实际不符"),
        _h("{head}户厨房与主房分离，厨房为土坯结构，存在安全隐患"),
        _h("{head}户{year}年汛期后房屋后坡出现滑塌迹象，未重新鉴定"),
        _h("{head}户住房安全鉴定表缺少鉴定人签字"),
        _v("{village}有{count}户住房安全鉴定资料不完整，缺少鉴定照片和签字"),
        _v("{village}{lastyear}年危房改造项目有{count}户未验收"),
        _t("{town}危房改造补助资金拨付滞后，涉及{count}户共{fund}万元"),
    ),
    "饮水安全": (
        _h("{head}户自来水入户后长期停水，日常取用山泉水"),
        _h("{head}户季节性缺水，旱季需到约{distance}米外的水井挑水"),
        _h("{head}户水龙头出水浑浊，未进行水质检测"),
        _h("{head}户对水费收缴标准不清楚，对供水管护不满意"),
        _h("{head}户入户水管破损漏水{days}天未维修"),
        _v("{village}集中供水工程蓄水池未加盖、未设置防护栏"),
        _v("{village}{lastyear}年第{quarter}季度水质检测报告缺失"),
        _v("{village}供水管网老化，有{count}户水压不足"),
        _t("{town}农村供水工程管护员未落实，管护经费{fund}万元未到位"),
    ),
    "产业": (
        _h("{head}户种植{crop}缺乏技术指导，{lastyear}年收益较低"),
        _h("{head}户入股{coop}，{lastyear}年分红{amount}元未兑现", _REG),
        _h("{head}户有发展产业意愿，到户产业补助未落实", _REG),
        _h("{head}户产业奖补资金{amount}元发放时间晚于规定时限", _REG),
        _h("{head}户养殖{livestock}遭遇疫病损失，未落实产业保险理赔"),
        _v("{coop}与脱贫户利益联结机制不健全，带动农户仅{count}户"),
        _v("{village}村集体经济收入不足5万元，存在“空壳村”风险"),
        _v("{village}{crop}产业基地长期闲置，未发挥带贫作用"),
        _t("{town}到村到户产业技术培训覆盖不足，群众知晓率低"),
    ),
    "就业": (
        _h("{head}户有劳动能力的家庭成员{member}未实现就业，未落实就业帮扶措施", _REG),
        _h("{head}户家庭成员{member}在{place}务工，跨区域交通补助未享受", _REG),
        _h("{head}户{member}担任{post}，{month}月份工资未按时发放"),
        _h("{head}户务工信息与系统记录不符，务工地点未及时更新"),
        _h("{head}户{member}有参加技能培训意愿，培训补贴未落实"),
        _v("{village}{post}岗位存在人岗不匹配，考勤台账缺失"),
        _v("{village}有{count}名脱贫劳动力务工信息未核实"),
        _t("{town}帮扶车间闲置，吸纳脱贫人口就业仅{count}人"),
    ),
    "小额信贷": (
        _h("{head}户小额信贷{loan}万元于{date}到期，尚未偿还，未办理续贷", _REG),
        _h("{head}户小额信贷资金用于建房，存在挪作他用问题", _REG),
        _h("{head}户有贷款意愿且符合条件，未做到应贷尽贷", _REG),
        _h("{head}户对小额信贷“免担保、免抵押、财政贴息”政策不知晓", _REG),
        _h("{head}户贷款{loan}万元存在“户贷企用”情况", _REG),
        _v("{village}小额信贷贴息资金{amount}元未按季度兑付"),
        _t("{town}小额信贷逾期{count}笔，贷后管理不到位"),
    ),
    "搬迁": (
        _h("{head}户为易地扶贫搬迁户，搬迁后无稳定增收项目", _REG),
        _h("{head}户搬迁后旧房未拆除复垦", _REG),
        _h("{head}户搬迁后有劳动能力的家庭成员未实现就业", _REG),
        _v("{village}集中安置点配套设施不完善，路灯、排水沟损坏"),
        _v("{village}安置点后续扶持台账不完整，{count}户帮扶措施未落实"),
        _t("{town}易地扶贫搬迁安置点社区管理服务未落实"),
    ),
    "兜底保障": (
        _h("{head}户家庭成员{member}重度残疾，残疾人两项补贴未落实"),
        _h("{head}户符合低保条件未纳入，存在应保未保"),
        _h("{head}户为分散供养特困人员，{month}月份供养金未按时发放", _REG),
        _h("{head}户因{illness}导致生活困难，临时救助未及时落实"),
        _h("{head}户家有事实无人抚养儿童{member}，基本生活补贴未申请", _KID),
        _v("{village}低保对象动态调整不及时，有{count}户收入已超标仍享受低保"),
        _t("{town}临时救助审批时间超过规定时限"),
    ),
    "人居环境": (
        _h("{head}户房前屋后柴草乱堆乱放，院坝卫生差"),
        _h("{head}户生活污水直排院外，未接入管网"),
        _h("{head}户畜禽圈舍与住房未分离，环境卫生差"),
        _h("{head}户室内物品摆放杂乱，未达到“五干净一规范”要求"),
        _v("{village}垃圾收集点清运不及时，垃圾满溢"),
        _v("{village}村内主干道两侧有{count}处生活垃圾乱倒"),
        _v("{village}“五干净一规范”评比未开展"),
        _t("{town}农村生活垃圾收运体系覆盖不全，有{count}个村民小组未覆盖"),
    ),
    "厕所革命": (
        _h("{head}户改厕后三格式化粪池未封盖，不符合建设技术规范"),
        _h("{head}户改厕奖补资金{amount}元未兑现"),
        _h("{head}户改厕后厕所闲置未使用"),
        _h("{head}户厕所粪污未定期清掏，影响周边环境"),
        _v("{village}户厕摸底信息未录入国家防返贫监测信息系统，涉及{count}户"),
        _v("{village}公厕无人管护，卫生状况差"),
        _t("{town}{lastyear}年无害化卫生厕所奖补资金{fund}万元未拨付"),
    ),
    "档案资料": (
        _h("{head}户家庭人口信息与系统不一致，系统登记{members}人，实际{members_other}人"),
        _h("{head}户“明白卡”未上墙，内容未及时更新", _REG),
        _h("{head}户家庭收入核算不准确，务工收入{amount}元未计入"),
        _h("{head}户《扶贫手册》填写不完整，缺少帮扶人签字", _REG),
        _h("{head}户住房安全等级标识牌、饮水安全标识牌缺失", _REG),
        _h("{head}户家庭成员{member}已去世，系统未及时标注减员"),
        _v("{village}建档立卡户档案资料不完整，有{count}户缺少收入调查表"),
        _v("{village}系统数据与纸质档案“账账不符”，涉及{count}户"),
        _t("{town}防返贫监测信息系统数据更新不及时，有{bigcount}条信息逾期未录入"),
    ),
    "驻村帮扶": (
        _h("{head}户不认识帮扶责任人，帮扶人未按月走访", _REG),
        _h("{head}户帮扶责任人{cadre}{month}月份未开展走访，走访记录缺失", _REG),
        _h("{head}户对帮扶干部工作不满意，反映帮扶措施落实不到位", _REG),
        _v("{village}驻村工作队员{cadre}长期不在岗，未落实吃住在村要求"),
        _v("{village}驻村工作队工作日志记录不完整，{month}月份缺少{count}天"),
        _v("{village}第一书记履职佐证资料缺失"),
    ),
    "信访舆情": (
        _h("户主{head}反映{lastyear}年危房改造补助发放不公，多次到{town}信访"),
        _h("户主{head}反映低保评定不公，存在优亲厚友"),
        _h("{head}户对帮扶政策存在误解，有越级上访风险"),
        _v("{village}群众反映村务公开不及时，项目资金使用未公示"),
        _v("网民在网络平台反映{village}产业项目质量问题，未及时回应处置"),
        _t("{town}涉贫信访件办理超期，涉及{count}件"),
    ),
    "项目资金": (
        _h("{head}户享受的到户项目资金{amount}元未公示", _REG),
        _v("{project}未按期开工，资金{fund}万元滞留"),
        _v("{project}已完工未验收，未办理资产移交"),
        _v("{project}带贫益贫机制不明确，联农带农效果差"),
        _v("{village}扶贫项目公示牌内容不全，缺少资金来源和受益户"),
        _t("{town}{lastyear}年衔接资金项目支出进度仅{percent}%，低于序时进度"),
        _t("{town}扶贫资产台账不完整，{count}个项目未确权"),
    ),
    "监测帮扶": (
        _h("{head}户{year}年因{illness}产生大额医疗支出{cost}元，存在返贫风险，未纳入监测"),
        _h("监测对象{head}户（{mtype}）未制定帮扶计划，帮扶措施未落实", _MON),
        _h("监测对象{head}户风险消除程序不规范，缺少入户核实记录", _MON),
        _h("监测对象{head}户监测联系人{cadre}未按月走访", _MON),
        _h("{head}户因意外事故导致收入骤减，未及时申报监测"),
        _v("{village}有{count}户监测对象帮扶措施单一，存在“一兜了之”"),
        _v("{village}农户自主申报渠道宣传不到位，群众对防返贫监测政策知晓率低"),
        _t("{town}对已消除风险监测对象“回头看”未开展"),
    ),
    "内生动力": (
        _h("{head}户存在“等靠要”思想，不愿参与产业发展"),
        _h("{head}户家庭成员{member}有劳动能力但长期闲散在家"),
        _v("{village}未开展“身边的脱贫故事”宣讲活动"),
        _v("{village}院坝会召开不及时，群众对村发展变化认可度不高"),
    ),
    "责任落实": (
        _h("户主{head}反映村干部办事不公道，存在优亲厚友"),
        _v("{village}村两委未定期研究巩固拓展脱贫攻坚成果工作，会议记录缺失"),
        _v("{village}遍访问题台账未建立"),
        _t("{town}党委未按要求每月召开专题会研究巩固衔接工作"),
        _t("{town}包村领导遍访边缘户、监测户制度落实不到位"),
    ),
}


class FactRule(StrEnum):
    """A household fact that reveals a problem on its own; values match detection.RULE_CODES."""

    INCOME_BELOW_LINE = "income_below_line"
    UNSAFE_HOUSE = "unsafe_house"
    NO_TAP_WATER = "no_tap_water"
    CHILD_OUT_OF_SCHOOL = "child_out_of_school"
    NO_MEDICAL_INSURANCE = "no_medical_insurance"
    NO_SANITARY_TOILET = "no_sanitary_toilet"


# For each fact rule: the category it falls under, a short phrase for visit findings, templates.
FACT_TEMPLATES: dict[FactRule, tuple[str, str, tuple[str, ...]]] = {
    FactRule.INCOME_BELOW_LINE: (
        "监测帮扶",
        "家庭人均纯收入低于监测线",
        (
            "{head}户家庭年人均纯收入{income}元，低于监测线{line}元，未纳入监测对象（应纳未纳）",
            "{head}户{members}口人，年人均纯收入{income}元，低于{line}元监测标准，未按程序识别纳入监测",
        ),
    ),
    FactRule.UNSAFE_HOUSE: (
        "住房安全",
        "住房为危房",
        (
            "{head}户现住房经鉴定为{grade}级危房，仍在居住",
            "{head}户住房安全等级为{grade}级，未落实改造或安置措施",
        ),
    ),
    FactRule.NO_TAP_WATER: (
        "饮水安全",
        "未通自来水",
        (
            "{head}户未通自来水，饮用水源为自家水井",
            "{head}户自来水管网未入户，日常饮用山泉水",
        ),
    ),
    FactRule.CHILD_OUT_OF_SCHOOL: (
        "义务教育",
        "有适龄儿童失学辍学",
        (
            "{head}户有{dropouts}名义务教育阶段适龄儿童失学辍学，未落实劝返",
            "{head}户子女{member}义务教育阶段辍学在家",
        ),
    ),
    FactRule.NO_MEDICAL_INSURANCE: (
        "基本医疗",
        "有家庭成员未参加基本医疗保险",
        (
            "{head}户有家庭成员未参加{year}年度基本医疗保险",
            "{head}户{member}未参加城乡居民基本医疗保险，存在因病返贫风险",
        ),
    ),
    FactRule.NO_SANITARY_TOILET: (
        "厕所革命",
        "无卫生厕所",
        (
            "{head}户无卫生厕所，仍使用旱厕",
            "{head}户未改厕，无卫生厕所",
        ),
    ),
}

# What cadres write when a visit finds nothing wrong (面访 / 代答).
PLAIN_FINDINGS: tuple[str, ...] = (
    "家庭情况稳定，两不愁三保障及饮水安全有保障",
    "家庭收入稳定，无返贫致贫风险",
    "户主在家务农，子女外出务工，生活有保障",
    "已宣传防返贫监测政策，农户知晓自主申报渠道",
    "住房安全，已通自来水，家庭成员均已参保",
    "未发现问题，农户对帮扶工作满意",
    "家庭无大额刚性支出，收入来源稳定",
    "已核实家庭人口和收入信息，与系统一致",
    "农户反映生活无困难，对政策知晓",
    "走访未发现“两不愁三保障”问题",
)

# 电访 findings; {place} is where the household works.
PHONE_FINDINGS: tuple[str, ...] = (
    "整户在{place}务工，电话核实家庭情况正常",
    "整户长期在{place}居住，电话访谈未发现问题",
    "电话联系户主，在{place}务工收入稳定",
)

PROXY_FINDINGS: tuple[str, ...] = (
    "户主年老体弱，由{proxy}代答，家庭生活有保障",
    "户主不具备正常沟通能力，由{proxy}代答，未发现问题",
)

# Detail pools for template slots.
# fmt: off
ILLNESSES: tuple[str, ...] = (
    "高血压", "糖尿病", "脑梗塞", "尿毒症", "肺癌", "胃癌", "冠心病", "慢性阻塞性肺病",
    "类风湿关节炎", "精神分裂症", "白血病", "股骨骨折",
)
CROPS: tuple[str, ...] = (
    "柑橘", "花椒", "茶叶", "中药材", "蔬菜", "猕猴桃", "李子", "食用菌", "油茶", "核桃", "水稻", "红薯",
)
LIVESTOCK: tuple[str, ...] = ("生猪", "肉牛", "山羊", "蛋鸡", "肉兔", "蜜蜂")
PUBLIC_POSTS: tuple[str, ...] = ("保洁员", "护林员", "护路员", "水管员", "安全巡查员", "河道巡查员")
PROJECT_KINDS: tuple[str, ...] = (
    "产业路硬化项目", "人饮巩固提升工程", "产业基地建设项目", "村级光伏电站",
    "便民桥建设项目", "农产品冷链仓储项目", "农田灌溉渠修复工程", "人居环境整治项目",
)
SCHOOL_KINDS: tuple[str, ...] = ("中心小学", "初级中学", "中学")
# fmt: on
