"""A batch's natural keys are exactly those `natural_key` gives one report at a time."""

from __future__ import annotations

import datetime as dt

from duban.domain.household import ReportedProblem
from duban.services.problems import natural_key, natural_keys


def test_natural_keys_equal_one_at_a_time() -> None:
    day, other = dt.date(2022, 9, 20), dt.date(2022, 9, 21)
    reported = [
        ReportedProblem("入户排查", "住房安全", "t1", "v1", "610231-0001-0001",
                        "房屋  后墙\n裂缝 ", "王浩", day),
        ReportedProblem("入户排查", "住房安全", "t1", None, None, "房屋后墙裂缝", "王浩", day),
        ReportedProblem("系统比对", "饮水安全", "t2", "v9", "H1", "未通自来水", "李娟", other,
                        tier="急", deadline=other),
        ReportedProblem("入户排查", "住房安全", "t1", "v1", "610231-0001-0001",
                        "房屋 后墙 裂缝", "张三", day),
    ]
    rules = [None, "income_low", None, ""]
    keys = natural_keys(reported, rules)
    assert keys == [natural_key(p, r) for p, r in zip(reported, rules, strict=True)]
    assert keys[0] == keys[3]  # white space and the finder do not make another problem
    assert len(set(keys)) == 3
