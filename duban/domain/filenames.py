"""File names a person receives: Chinese words (文号, unit name), safe on Windows, unique."""

from __future__ import annotations

import re
from collections.abc import Container

# Characters Windows refuses in a file name, plus control characters.
_FORBIDDEN = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
# Names Windows reserves whatever the extension.
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                       *(f"LPT{i}" for i in range(1, 10))})
MAX_STEM = 120  # characters; NTFS allows 255, leaving room for the folder and a suffix
# UTF-8 bytes: Linux allows 255 a name, and a Chinese character takes three (120 of them did
# not fit); the rest is room for a （12） and the suffix.
MAX_STEM_BYTES = 200


def safe_part(text: str) -> str:
    """One part of a file name: forbidden characters become full-width or are dropped."""
    text = text.replace("/", "／").replace("\\", "＼").replace(":", "：").replace("*", "＊")
    text = text.replace("?", "？").replace('"', "”").replace("<", "《").replace(">", "》")
    text = text.replace("|", "｜")
    text = _FORBIDDEN.sub("", text)
    return " ".join(text.split()).strip(" .")


def document_file_name(*parts: str, suffix: str, taken: Container[str] = ()) -> str:
    """`文号-单位.docx` from its non-empty parts; `（2）`, `（3）` … when the name is taken."""
    words = [p for p in (safe_part(x) for x in parts) if p]
    stem = _fitted(words).rstrip(" .-") or "文件"
    if stem.upper() in _RESERVED:
        stem = f"{stem}文件"
    name = f"{stem}{suffix}"
    n = 2
    while name in taken:
        name = f"{stem}（{n}）{suffix}"
        n += 1
    return name


def _fitted(words: list[str]) -> str:
    """The parts joined by "-", the longest part cut (ending in …) until the stem fits both
    limits: a long plan or unit name gives way, the kind and date after it stay whole."""
    words = list(words)

    def fits() -> bool:
        stem = "-".join(words)
        return len(stem) <= MAX_STEM and len(stem.encode("utf-8")) <= MAX_STEM_BYTES

    while not fits():
        i = max(range(len(words)), key=lambda k: len(words[k].encode("utf-8")))
        cut = words[i].removesuffix("…")[:-1].rstrip(" .-")
        if not cut:
            words.pop(i)
            continue
        words[i] = cut + "…"
    return "-".join(words)


def report_file_stem(plan_name: str, kind: str, when: str) -> str:
    """`行动名-日报-2022年9月26日`: a report's file name without suffix, the same on disk and in mail."""
    return document_file_name(plan_name, kind, when, suffix="")
