"""Where display lines break: titles and the 发文机关标志 at word boundaries, in a balanced shape.

GB/T 9704-2012 7.3.1 asks a title that needs more than one line to break so that each line keeps
its words whole (回行时，要做到词意完整), in a 梯形 or 菱形 shape. Word boundaries come from
the jieba segmenter; a few fixed policy phrases (固定提法) and the names the document mentions
(towns, offices) are never split. A line never starts with closing punctuation (、，”） …) nor
ends with an opening mark (“（《 …), the 行首行尾禁则 of Chinese typesetting; it avoids ending on a
conjunction or preposition (同, 和, 关于 …), starting with a particle (的, 等 …), and breaking
inside a quoted phrase (a slogan in “…” reads as one).
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Iterable, Sequence

# Phrases of the campaigns' documents that read as one unit; a title breaks around them.
FIXED_PHRASES = (
    "巩固拓展脱贫攻坚成果",
    "同乡村振兴有效衔接",
    "乡村振兴",
    "脱贫攻坚",
    "领导小组办公室",
    "领导小组",
    "专项行动",
    "集中整改提升",
    "大走访大排查大整改",
    "防止返贫",
    "监测帮扶",
    "督办通知书",
    "催办通知",
    "月考评",
    "人民政府",
    "办事处",
)
# Never at a line's start (they close what precedes) nor at its end (they open what follows).
_CLOSING = frozenset("、，。；：？！）》〉」』〕】”’…·%")
_OPENING = frozenset("（《〈「『〔【“‘")
_PAIRS = {"“": "”", "《": "》", "（": "）", "「": "」", "『": "』", "〔": "〕", "【": "】"}
# A line should not end with these (they bind to what follows) …
_BAD_END = ("关于", "同", "和", "与", "及", "对", "在", "把", "将", "为", "以")
# … nor start with these (they bind to what precedes).
_BAD_START = ("的", "等", "之", "了")


def text_width_chars(text: str) -> float:
    """Width in full-width characters: CJK and full-width punctuation 1, ASCII 0.5.

    The general punctuation block (“”‘’…—, U+2010–U+205F) is full width too: the Chinese
    fonts set those quotes a full em wide (Noto Serif SC, SimSun), and a mark measured with
    half-width quotes overflowed its line (少云镇“大走访大排查大整改”工作专 / 班).
    """
    return sum(0.5 if ord(ch) < 0x2E80 and not 0x2010 <= ord(ch) < 0x2060 else 1.0
               for ch in text)


@functools.cache
def _jieba() -> object:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@functools.lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    return tuple(_jieba().lcut(text, HMM=True))  # type: ignore[attr-defined]


def word_boundaries(text: str, protect: Iterable[str] = ()) -> list[int]:
    """Offsets (1 … len-1) where a line may break: between words, outside protected phrases."""
    cuts: set[int] = set()
    pos = 0
    for w in _words(text):
        pos += len(w)
        cuts.add(pos)
    cuts.discard(len(text))
    cuts = {c for c in cuts if _may_break(text, c)}
    for phrase in itertools.chain(FIXED_PHRASES, protect):
        if len(phrase) < 2:
            continue
        start = text.find(phrase)
        while start >= 0:
            cuts.difference_update(range(start + 1, start + len(phrase)))
            start = text.find(phrase, start + 1)
    return sorted(cuts)


def _may_break(text: str, at: int) -> bool:
    """Whether a line may end before `text[at]`: not before closing punctuation, not after an
    opening mark, not after a digit (a number stays with its unit: 2022年, 3个)."""
    return (text[at] not in _CLOSING and text[at - 1] not in _OPENING
            and not text[at - 1].isdigit())


def _enclosed(text: str) -> frozenset[int]:
    """Offsets inside a quoted or bracketed span (after its opening mark, before its closing)."""
    inside: set[int] = set()
    for i, ch in enumerate(text):
        close = _PAIRS.get(ch)
        if close is not None:
            end = text.find(close, i + 1)
            if end > 0:
                inside.update(range(i + 1, end + 1))
    return frozenset(inside)


def _penalty(line: str) -> float:
    p = 0.0
    if line.endswith(_BAD_END):
        p += 4.0
    if line.startswith(_BAD_START):
        p += 4.0
    return p


def _shape_cost(widths: Sequence[float]) -> float:
    """梯形 (lines growing or shrinking) or 菱形 (longest in the middle); not a rectangle of
    equal lines, nor an hourglass (shortest in the middle)."""
    if len(widths) == 2:
        return 1.0 if widths[0] == widths[1] else 0.0
    steps = list(itertools.pairwise(widths))
    trapezoid = all(a > b for a, b in steps) or all(a < b for a, b in steps)
    diamond = max(widths[1:-1]) > max(widths[0], widths[-1])
    return 0.0 if trapezoid or diamond else 1.5


@functools.lru_cache(maxsize=1024)
def _balanced(text: str, max_width: float, protect: tuple[str, ...]) -> tuple[str, ...]:
    total = text_width_chars(text)
    if total <= max_width:
        return (text,)
    cuts = word_boundaries(text, protect)
    n_lines = max(2, int(-(-total // max_width)))
    enclosed = _enclosed(text)
    best: tuple[float, tuple[str, ...]] | None = None
    for n in (n_lines, n_lines + 1):
        for chosen in itertools.combinations(cuts, n - 1):
            edges = (0, *chosen, len(text))
            lines = tuple(text[a:b] for a, b in itertools.pairwise(edges))
            widths = [text_width_chars(ln) for ln in lines]
            if max(widths) > max_width:
                continue
            cost = (max(widths) - min(widths)) + sum(_penalty(ln) for ln in lines)
            cost += 10.0 * sum(1 for c in chosen if c in enclosed)
            cost += _shape_cost(widths) + 3.0 * (n - n_lines)
            if best is None or cost < best[0]:
                best = (cost, lines)
        if best is not None and n == n_lines:
            break
    if best is None:  # no word boundary fits: break at characters, evenly, punctuation kept
        return _even(text, n_lines)
    return best[1]


def _even(text: str, n_lines: int) -> tuple[str, ...]:
    """`text` in `n_lines` nearly equal pieces, each cut moved back past any punctuation that
    may not start or end a line."""
    per = int(-(-len(text) // n_lines))
    lines, start = [], 0
    while len(text) - start > per:
        cut = start + per
        while cut > start + 1 and not _may_break(text, cut):
            cut -= 1
        lines.append(text[start:cut])
        start = cut
    lines.append(text[start:])
    return tuple(lines)


def balanced_lines(text: str, max_width: float, protect: Iterable[str] = ()) -> list[str]:
    """Break `text` into the fewest lines of at most `max_width` characters, at word
    boundaries, as evenly as the words allow (梯形 or 菱形), avoiding bad line ends."""
    # Only the names found in the text change the breaks: a batch's notices, each protecting
    # its own addressee, then share the cached result for their common title.
    return list(_balanced(text, max_width, tuple(sorted({p for p in protect if p and p in text}))))
