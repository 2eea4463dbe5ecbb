"""Column headers of the Excel registers and ledger (农户信息 / 走访记录 / 问题台账).

One constant per sheet so the Excel templates, the importers and the synthetic data agree.
"""

from __future__ import annotations

# 农户信息表: one row per household.
HOUSEHOLD_COLUMNS: tuple[str, ...] = (
    "乡镇",
    "村",
    "户编号",
    "户主姓名",
    "家庭人口",
    "农户类别",
    "监测对象类型",
    "年人均纯收入（元）",
    "住房安全等级",
    "是否通自来水",
    "适龄儿童数",
    "失学辍学儿童数",
    "是否参加基本医疗保险",
    "是否有卫生厕所",
)

# 走访记录表: one row per visit.
VISIT_COLUMNS: tuple[str, ...] = (
    "户编号",
    "走访人",
    "走访日期",
    "走访方式",
    "代答人",
    "走访发现",
)

# 问题台账: one row per reported problem.
PROBLEM_COLUMNS: tuple[str, ...] = (
    "问题来源",
    "问题类别",
    "乡镇",
    "村",
    "户编号",
    "问题描述",
    "排查人",
    "排查日期",
    "整改时限类型",
    "整改时限",
)

# How yes/no facts are written in the registers.
YES = "是"
NO = "否"
