"""Matching what people write to the plan's categories, sources, offices and places.

Clerks write 住房 for 住房安全, 沧沟 for 沧沟乡, ＡＢ for AB. A plan item (category, source, office,
town, village) has a code, a name and `aliases`; `NameIndex` finds the code a written value
stands for after normalising width (全角/半角), spaces and a few common variants, and, when
nothing matches, `suggest` names the closest items for the message
("不是方案中的问题类别“住房”，是否为「住房安全」？").

Standard library only: the intake adapter, the CLI filters and the web's mapping step all use it.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from duban.domain.plan import Plan

__all__ = [
    "KINDS",
    "PLACE_SUFFIXES",
    "NameIndex",
    "Named",
    "did_you_mean",
    "normalise",
    "plan_index",
]

_SPACE_RE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff·•・_\-—]+")
# Variant characters clerks type for the same word (traditional or older forms seen in ledgers).
_VARIANTS = str.maketrans({
    "鄉": "乡", "鎮": "镇", "區": "区", "縣": "县", "辦": "办", "塆": "湾", "灣": "湾",
    "衛": "卫", "醫": "医", "險": "险", "飲": "饮", "業": "业", "產": "产", "據": "据",
    "質": "质", "設": "设", "環": "环", "廁": "厕",
    "（": "(", "）": ")", "〔": "(", "〕": ")", "【": "(", "】": ")",
})
# The endings a place name may carry or drop: 沧沟 is 沧沟乡, 王湾 is 王湾村.
PLACE_SUFFIXES: dict[str, tuple[str, ...]] = {
    "town": ("乡", "镇", "街道", "街道办事处", "办事处", "开发区", "乡人民政府", "镇人民政府"),
    "village": ("村", "社区", "村委会", "居委会", "村民委员会"),
}
# The kinds of plan item a value may name, with their Chinese words for messages.
KINDS: dict[str, str] = {
    "category": "问题类别",
    "source": "问题来源",
    "office": "办室",
    "town": "乡镇",
    "village": "村",
}


def normalise(text: str) -> str:
    """The form names are compared in: NFKC (全角→半角), no spaces or dots, variants folded,
    lower case."""
    s = unicodedata.normalize("NFKC", text).translate(_VARIANTS)
    return _SPACE_RE.sub("", s).casefold()


@dataclass(frozen=True)
class Named:
    """One item a value may name: its code, its name (what people read) and other words for it."""

    code: str
    name: str
    aliases: tuple[str, ...] = ()


class NameIndex:
    """Codes by name, alias or code, normalised; `suffixes` may be added to or dropped from a
    written value (a town's 乡/镇, a village's 村)."""

    def __init__(self, items: Iterable[Named], suffixes: Sequence[str] = ()) -> None:
        self.items: tuple[Named, ...] = tuple(items)
        self.suffixes = tuple(sorted(suffixes, key=len, reverse=True))
        self._by_key: dict[str, str] = {}
        self._names: dict[str, str] = {}
        # Names and aliases win over codes: a code never hides another item's name.
        for item in self.items:
            self._names.setdefault(item.code, item.name)
            for word in (item.name, *item.aliases):
                self._by_key.setdefault(normalise(word), item.code)
        for item in self.items:
            self._by_key.setdefault(normalise(item.code), item.code)
        # Each key without its ending too, so 沧沟 finds 沧沟乡 and 沧沟镇 finds 沧沟乡.
        self._stems: dict[str, str | None] = {}
        for key, code in self._by_key.items():
            stem = self._stem(key)
            if stem != key and stem:
                known = self._stems.get(stem, code)
                self._stems[stem] = code if known == code else None  # two items: ambiguous

    def _stem(self, key: str) -> str:
        for suffix in self.suffixes:
            if key.endswith(suffix) and len(key) > len(suffix):
                return key[: -len(suffix)]
        return key

    def __bool__(self) -> bool:
        return bool(self.items)

    def find(self, value: str) -> str | None:
        """The code `value` stands for, or None."""
        key = normalise(value)
        if not key:
            return None
        code = self._by_key.get(key)
        if code is not None:
            return code
        if not self.suffixes:
            return None
        stem = self._stem(key)
        code = self._by_key.get(stem)
        if code is not None:
            return code
        return self._stems.get(stem)

    def name(self, code: str) -> str:
        """The name of the item with this code (the code itself when unknown)."""
        return self._names.get(code, code)

    def names(self) -> list[str]:
        """Every item's name, in the plan's order."""
        return [item.name for item in self.items]

    def suggest(self, value: str, limit: int = 3) -> list[str]:
        """The names of the items closest to `value`, best first (empty when none is close)."""
        key = normalise(value)
        if not key or len(key) > 60:  # a pasted paragraph names nothing
            return []
        scored: dict[str, float] = {}
        for item in self.items:
            best = 0.0
            for word in (item.name, *item.aliases):
                other = normalise(word)
                if not other:
                    continue
                ratio = difflib.SequenceMatcher(None, key, other).ratio()
                if key in other or other in key:
                    ratio = max(ratio, 0.6 + 0.4 * min(len(key), len(other)) / max(len(key),
                                                                                  len(other)))
                best = max(best, ratio)
            if best >= 0.4:
                scored[item.name] = max(best, scored.get(item.name, 0.0))
        if not scored:
            return []
        order = {name: i for i, name in enumerate(self.names())}
        ranked = sorted(scored.items(), key=lambda kv: (-kv[1], order[kv[0]]))
        # Only those nearly as close as the best: 住房安全保障 suggests 住房安全 alone.
        floor = ranked[0][1] - 0.2
        return [name for name, score in ranked[:limit] if score >= floor]

    def unknown(self, value: str, what: str, limit: int = 3) -> str:
        """The Chinese sentence for a value that names nothing: the closest choices, or a few
        of the choices when none is close."""
        close = self.suggest(value, limit)
        if close:
            return f"不是方案中的{what}“{value}”，是否为{did_you_mean(close)}？"
        names = self.names()
        shown = "、".join(names[:8]) + ("等" if len(names) > 8 else "")
        return f"不是方案中的{what}“{value}”（可选：{shown}）"


def did_you_mean(names: Sequence[str]) -> str:
    """「住房安全」 or 「住房安全」或「饮水安全」."""
    return "或".join(f"「{n}」" for n in names)


def plan_index(plan: Plan, kind: str, town: str | None = None) -> NameIndex:
    """The index of one kind of plan item: category, source, office, town, or village (every
    village, or those of `town`, a town code)."""
    if kind == "category":
        return NameIndex(Named(c.code, c.name, c.aliases) for c in plan.categories)
    if kind == "source":
        return NameIndex(Named(s.code, s.name, s.aliases) for s in plan.sources)
    if kind == "office":
        return NameIndex(Named(o.code, o.name, o.aliases) for o in plan.offices)
    if kind == "town":
        return NameIndex((Named(t.code, t.name, t.aliases) for t in plan.towns),
                         PLACE_SUFFIXES["town"])
    if kind == "village":
        return NameIndex((Named(v.code, v.name, v.aliases) for t in plan.towns
                          if town is None or t.code == town for v in t.villages),
                         PLACE_SUFFIXES["village"])
    raise ValueError(f"unknown kind of plan item: {kind!r}")
