"""Benchmark: bare python-calamine read vs read_rows + validate_households on a big 农户信息 file.

    .venv/bin/python bench/intake_read.py [ROWS] [PATH]

Writes PATH (default /tmp/duban-bench-households-ROWS.xlsx) if it does not exist, then runs each
measurement in a fresh subprocess so peak memory (its VmHWM, bench.floor_script.PEAK) belongs to
that step alone.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from duban.adapters.xlsx import column_letter

ROOT = Path(__file__).resolve().parent.parent

_SYLLABLES = (
    "东西南北中上下前后新老大小高王李张刘陈杨黄赵周吴孙马朱胡郭何林罗梁宋郑谢韩唐冯于"
    "董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊"
    "金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段漕钱汤尹黎易常武乔贺赖龚文"
)
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志强春梅海燕德福永兴"
_CATEGORIES = ("建档立卡脱贫户", "监测对象", "一般农户")
_TYPES = ("脱贫不稳定户", "边缘易致贫户", "突发严重困难户")


def place_names(towns: int = 12, villages_per_town: int = 20) -> dict[str, list[str]]:
    """Deterministic town -> villages names for generated data."""
    rnd = random.Random(7)
    out: dict[str, list[str]] = {}
    used: set[str] = set()
    while len(out) < towns:
        name = "".join(rnd.sample(_SYLLABLES, 2)) + rnd.choice("乡镇")
        if name in out:
            continue
        vs: list[str] = []
        while len(vs) < villages_per_town:
            v = "".join(rnd.sample(_SYLLABLES, 2)) + "村"
            if v not in used:
                used.add(v)
                vs.append(v)
        out[name] = vs
    return out


def household_rows(n: int, seed: int = 1) -> Iterator[list[Any]]:
    """n valid 农户信息 rows in template column order."""
    rnd = random.Random(seed)
    places = list(place_names().items())
    for i in range(n):
        town, villages = places[i % len(places)]
        village = villages[(i // len(places)) % len(villages)]
        members = rnd.randint(1, 8)
        cat = rnd.choices(_CATEGORIES, weights=(5, 1, 4))[0]
        school = rnd.randint(0, min(3, members))
        yield [
            town,
            village,
            f"41162401{i:08d}",
            rnd.choice(_SYLLABLES) + "".join(rnd.sample(_GIVEN, rnd.randint(1, 2))),
            members,
            cat,
            rnd.choice(_TYPES) if cat == "监测对象" else None,
            rnd.randint(3000, 40000),
            rnd.choice("AABBBC"),
            rnd.choice("是是是否"),
            school,
            0 if rnd.random() < 0.99 else min(1, school),
            rnd.choice("是是是是否"),
            rnd.choice("是是否"),
        ]


def write_xlsx(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Stream a one-sheet .xlsx with shared strings (fast: writes the XML directly)."""
    strings: dict[str, int] = {}
    cols = [column_letter(i) for i in range(len(header))]

    def sid(s: str) -> int:
        n = strings.get(s)
        if n is None:
            n = strings[s] = len(strings)
        return n

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as raw:
            buf: list[str] = [
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                "<sheetData>"
            ]
            cells = "".join(
                f'<c r="{cols[c]}1" t="s"><v>{sid(str(v))}</v></c>' for c, v in enumerate(header)
            )
            buf.append(f'<row r="1">{cells}</row>')
            for r, row in enumerate(rows, 2):
                parts = [f'<row r="{r}">']
                for c, v in enumerate(row):
                    if v is None or v == "":
                        continue
                    if isinstance(v, int | float) and not isinstance(v, bool):
                        parts.append(f'<c r="{cols[c]}{r}"><v>{v}</v></c>')
                    else:
                        parts.append(f'<c r="{cols[c]}{r}" t="s"><v>{sid(str(v))}</v></c>')
                parts.append("</row>")
                buf.append("".join(parts))
                if len(buf) >= 5000:
                    raw.write("".join(buf).encode())
                    buf.clear()
            buf.append("</sheetData></worksheet>")
            raw.write("".join(buf).encode())
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as raw:
            raw.write(
                (
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                    f'count="{len(strings)}" uniqueCount="{len(strings)}">'
                ).encode()
            )
            chunk: list[str] = []
            for s in strings:
                chunk.append(f"<si><t>{escape(s)}</t></si>")
                if len(chunk) >= 10000:
                    raw.write("".join(chunk).encode())
                    chunk.clear()
            chunk.append("</sst>")
            raw.write("".join(chunk).encode())
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
    return path


_NS = "http://schemas.openxmlformats.org"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Types xmlns="{_NS}/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_NS}/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_NS}/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<workbook xmlns="{_NS}/spreadsheetml/2006/main" '
    f'xmlns:r="{_NS}/officeDocument/2006/relationships">'
    '<sheets><sheet name="农户信息" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_NS}/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_NS}/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_NS}/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/></Relationships>'
)


def write_households(path: Path, n: int) -> Path:
    """A 农户信息 .xlsx of n generated valid rows."""
    sys.path.insert(0, str(ROOT))
    from duban.adapters.intake.spec import HEADERS

    return write_xlsx(path, HEADERS["households"], household_rows(n))


_BARE = """
import json, sys, time
import python_calamine as pc
t, c = time.perf_counter(), time.process_time()
wb = pc.CalamineWorkbook.from_path(sys.argv[1])
rows = wb.get_sheet_by_index(0).to_python()
dt, dc = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"seconds": dt, "cpu": dc, "rows": len(rows) - 1,
                  "peak_mib": peak_mib()}))
"""

_FULL = """
import json, sys, time
sys.path.insert(0, sys.argv[2])
from bench.intake_read import place_names
from duban.adapters.intake import ReferenceData, read_rows, validate_households
places = place_names()
towns = {t: f"T{i}" for i, t in enumerate(places)}
villages = {towns[t]: {v: f"{towns[t]}V{j}" for j, v in enumerate(vs)} for t, vs in places.items()}
refs = ReferenceData(towns=towns, villages=villages)
t, c = time.perf_counter(), time.process_time()
sheet = read_rows(sys.argv[1], "households")
t_read = time.perf_counter() - t
result = validate_households(sheet, refs)
dt, dc = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"seconds": dt, "cpu": dc, "read_seconds": t_read, "rows": len(result.rows),
                  "peak_mib": peak_mib()}))
"""


def _measure(code: str, path: Path) -> dict[str, Any]:
    # A child's peak memory is its own high-water mark (VmHWM, `peak_mib`): its ru_maxrss
    # carries across exec the larger peak of the process that started it.
    sys.path.insert(0, str(ROOT))
    from bench.floor_script import PEAK

    out = subprocess.run(
        [sys.executable, "-c", PEAK + code, str(path), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(path: str | Path, repeat: int = 3) -> dict[str, Any]:
    """Time a bare calamine read and read_rows + validate_households of `path`."""
    # Each run is a fresh subprocess (so peak memory is that step's own); the best of `repeat`
    # runs is kept, since other work on the machine only ever adds time. CPU seconds are
    # reported beside wall seconds: on a shared machine they are the steadier number.
    p = Path(path)
    bare = [_measure(_BARE, p) for _ in range(repeat)]
    full = [_measure(_FULL, p) for _ in range(repeat)]
    bare_wall = min(b["seconds"] for b in bare)
    full_wall = min(f["seconds"] for f in full)
    bare_cpu = min(b["cpu"] for b in bare)
    full_cpu = min(f["cpu"] for f in full)
    return {
        "file": str(p),
        "file_mib": round(p.stat().st_size / 2**20, 1),
        "rows": full[0]["rows"],
        "bare_seconds": round(bare_wall, 2),
        "bare_cpu_seconds": round(bare_cpu, 2),
        "bare_peak_mib": round(max(b["peak_mib"] for b in bare)),
        "full_seconds": round(full_wall, 2),
        "full_cpu_seconds": round(full_cpu, 2),
        "full_read_seconds": round(min(f["read_seconds"] for f in full), 2),
        "full_peak_mib": round(max(f["peak_mib"] for f in full)),
        "ratio_wall": round(full_wall / bare_wall, 2),
        "ratio_cpu": round(full_cpu / bare_cpu, 2),
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    path = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(f"/tmp/duban-bench-households-{n}.xlsx")
    if not path.exists():
        t = time.perf_counter()
        write_households(path, n)
        print(f"wrote {path} ({n} rows) in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    print(json.dumps(run(path), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
