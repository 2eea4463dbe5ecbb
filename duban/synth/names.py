"""Pools of Chinese surnames, given-name characters and place-name parts, and seeded pickers."""

from __future__ import annotations

import random
import sys
from bisect import bisect
from itertools import accumulate

# fmt: off
# Common surnames with rough relative frequencies (most frequent first).
_SURNAME_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("王", 72), ("李", 71), ("张", 68), ("刘", 54), ("陈", 46), ("杨", 31), ("黄", 25),
    ("赵", 20), ("吴", 20), ("周", 19), ("徐", 15), ("孙", 15), ("马", 12), ("朱", 12),
    ("胡", 11), ("郭", 11), ("何", 10), ("林", 9), ("高", 9), ("罗", 9), ("郑", 9),
    ("梁", 8), ("谢", 7), ("宋", 6), ("唐", 6), ("许", 6), ("韩", 6), ("邓", 6),
    ("冯", 6), ("曹", 5), ("彭", 5), ("曾", 5), ("肖", 5), ("田", 5), ("董", 5),
    ("潘", 4), ("袁", 4), ("蔡", 4), ("蒋", 4), ("余", 4), ("于", 4), ("杜", 4),
    ("叶", 4), ("程", 4), ("魏", 3), ("苏", 3), ("吕", 3), ("丁", 3), ("任", 3),
    ("卢", 3), ("姚", 3), ("沈", 3), ("钟", 3), ("姜", 3), ("崔", 3), ("谭", 3),
    ("陆", 2), ("范", 2), ("汪", 2), ("廖", 2), ("石", 2), ("金", 2), ("韦", 2),
    ("贾", 2), ("夏", 2), ("付", 2), ("方", 2), ("邹", 2), ("熊", 2), ("白", 2),
    ("孟", 2), ("秦", 2), ("邱", 2), ("侯", 2), ("江", 2), ("尹", 2), ("薛", 2),
    ("闫", 2), ("段", 2), ("雷", 2), ("龙", 2), ("黎", 2), ("史", 2), ("陶", 2),
    ("贺", 2), ("毛", 2), ("郝", 1), ("顾", 1), ("龚", 1), ("邵", 1), ("万", 1),
    ("覃", 1), ("武", 1), ("钱", 1), ("戴", 1), ("严", 1), ("莫", 1), ("孔", 1),
    ("向", 1), ("汤", 1), ("冉", 1), ("母", 1), ("蒲", 1), ("聂", 1), ("牟", 1),
)
SURNAMES: tuple[str, ...] = tuple(s for s, _ in _SURNAME_WEIGHTS)
_SURNAME_CUM: list[int] = list(accumulate(w for _, w in _SURNAME_WEIGHTS))

# Given-name characters typical of rural heads of household born 1940-1980.
_MALE_CHARS = (
    "建国明华军强平伟勇林德文志春海成兵福贵荣祥全兴忠光中长"
    "清远云山金安友发生学永先东洪正元树仁义富宗万才昌家绍开"
)
_FEMALE_CHARS = "秀英兰芳梅珍琼凤玉霞丽萍红桂香翠群莲美淑玲娟燕敏菊会素琴碧蓉"
# Younger cadres (born 1975-2000) carry more modern names.
_CADRE_CHARS = "浩磊鹏静婷杰涛超丹倩宇航欣怡晨阳军勇强伟敏燕丽娟斌波刚辉俊峰亮琳雪梅"

# Place-name parts: a descriptive first character and a landform second character.
_PLACE_FIRST = (
    "青石龙安平白云金双新太清永福高马华长东西南北大黄柏松凤鹤兴和仁义德庆宁团红丰胜"
    "铁铜桃梨茶竹花莲万三五七九天回玉宝合顺吉富盐观兰桂枫碧锦临复来望"
)
_PLACE_SECOND = "坝溪河桥山岭沟湾口坪场寺店铺林塘田园台峰岩滩堡垭坡关井泉池庙庄营寨湖洲岗坎嘴城门江阳"
_PLACE_MIDDLE_SURNAMES = "王李张刘陈杨黄赵吴周何罗谢唐冯曾田蒋谭龙向冉"

# Where whole households go to work (电访 targets).
WORK_PLACES: tuple[str, ...] = (
    "广东东莞", "广东深圳", "浙江宁波", "浙江义乌", "福建晋江", "江苏苏州", "上海",
    "重庆主城", "四川成都", "北京", "新疆", "湖北武汉",
)

# Relations of a proxy respondent (代答人) to the head.
PROXY_RELATIONS: tuple[str, ...] = ("儿子", "女儿", "侄子", "兄弟", "儿媳", "孙子")
# fmt: on


def pick_surname(rng: random.Random) -> str:
    """A surname drawn by frequency."""
    return SURNAMES[bisect(_SURNAME_CUM, rng.random() * _SURNAME_CUM[-1])]


def _given(rng: random.Random, chars: str, single_share: float) -> str:
    if rng.random() < single_share:
        return chars[int(rng.random() * len(chars))]
    n = len(chars)
    return chars[int(rng.random() * n)] + chars[int(rng.random() * n)]


def person_name(
    rng: random.Random, surname: str | None = None, *, female: bool | None = None
) -> str:
    """A rural person's full name, interned so repeated names share memory."""
    if female is None:
        female = rng.random() < 0.2
    chars = _FEMALE_CHARS if female else _MALE_CHARS
    return sys.intern((surname or pick_surname(rng)) + _given(rng, chars, 0.15))


def cadre_name(rng: random.Random) -> str:
    """A village or town cadre's full name."""
    return sys.intern(pick_surname(rng) + _given(rng, _CADRE_CHARS, 0.3))


def place_stem(rng: random.Random, *, surname_share: float = 0.0) -> str:
    """A place-name stem: 石桥, 龙溪, or 王家坝 (a surname clan place)."""
    second = _PLACE_SECOND[int(rng.random() * len(_PLACE_SECOND))]
    if rng.random() < surname_share:
        clan = _PLACE_MIDDLE_SURNAMES[int(rng.random() * len(_PLACE_MIDDLE_SURNAMES))]
        return clan + "家" + second
    return _PLACE_FIRST[int(rng.random() * len(_PLACE_FIRST))] + second


def unique_place(
    rng: random.Random, suffix: str, taken: set[str], *, surname_share: float = 0.0
) -> str:
    """A place name with the suffix that is not yet in `taken` (and add it)."""
    for _ in range(10_000):
        name = place_stem(rng, surname_share=surname_share) + suffix
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("地名池已用尽，无法生成不重复的地名")
