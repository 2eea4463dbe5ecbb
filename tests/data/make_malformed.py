"""The corpus of malformed intake files: each case is built at test time from valid rows.

Run as a script to write every file into tests/data/malformed/ for a look by hand:
    .venv/bin/python tests/data/make_malformed.py
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import struct
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from openpyxl import Workbook  # noqa: E402

from duban.adapters.intake import HEADERS, ReferenceData, known_households  # noqa: E402

TOWNS: dict[str, tuple[str, dict[str, str]]] = {
    "沧沟乡": ("canggou", {"关庙村": "guanmiao", "青杠村": "qinggang", "大田村": "datian"}),
    "白马镇": ("baima", {"白马村": "baimacun", "石门村": "shimen"}),
}
CATEGORIES = {"住房安全": "housing", "饮水安全": "water", "义务教育": "education"}
SOURCES = {"入户排查": "visit", "巡视": "inspection", "行业排查": "sector"}
TIERS = {"立查立改": "now", "7月底": "july", "9月底": "september"}
CAMPAIGN = (dt.date(2022, 5, 1), dt.date(2022, 9, 30))

H = list(HEADERS["households"])
V = list(HEADERS["visits"])
P = list(HEADERS["problems"])

HOUSEHOLDS: list[list[Any]] = [
    [
        "沧沟乡",
        "关庙村",
        "5001560101001",
        "张三",
        4,
        "建档立卡脱贫户",
        "",
        8650,
        "A",
        "是",
        1,
        0,
        "是",
        "是",
    ],
    [
        "沧沟乡",
        "青杠村",
        "5001560102001",
        "李四",
        3,
        "监测对象",
        "边缘易致贫户",
        6200,
        "C",
        "否",
        2,
        1,
        "是",
        "否",
    ],
    [
        "白马镇",
        "白马村",
        "5001560201001",
        "王五",
        2,
        "一般农户",
        "",
        15000,
        "B",
        "是",
        0,
        0,
        "是",
        "是",
    ],
    [
        "白马镇",
        "石门村",
        "5001560202001",
        "赵六",
        5,
        "一般农户",
        "",
        12000,
        "A",
        "是",
        2,
        0,
        "否",
        "是",
    ],
]
VISITS: list[list[Any]] = [
    ["5001560101001", "刘干部", dt.date(2022, 5, 6), "面访", "", "房屋完好"],
    ["5001560102001", "刘干部", dt.date(2022, 5, 7), "代答", "李小四", "户主外出务工"],
    ["5001560201001", "陈干部", dt.date(2022, 5, 8), "电访", "", ""],
]
PROBLEMS: list[list[Any]] = [
    [
        "入户排查",
        "住房安全",
        "沧沟乡",
        "青杠村",
        "5001560102001",
        "房屋C级未改造",
        "刘干部",
        dt.date(2022, 5, 7),
        "7月底",
        dt.date(2022, 7, 31),
    ],
    [
        "行业排查",
        "饮水安全",
        "白马镇",
        "",
        "",
        "集中供水工程水压不足",
        "陈干部",
        dt.date(2022, 5, 9),
        "",
        "",
    ],
    [
        "巡视",
        "义务教育",
        "沧沟乡",
        "青杠村",
        "5001560102001",
        "适龄儿童失学",
        "县督查组",
        dt.date(2022, 5, 10),
        "立查立改",
        "",
    ],
]

HEADER_OF = {"households": H, "visits": V, "problems": P}
ROWS_OF = {"households": HOUSEHOLDS, "visits": VISITS, "problems": PROBLEMS}


def refs() -> ReferenceData:
    """The reference data every corpus file is checked against."""
    towns: dict[str, str] = {}
    villages: dict[str, dict[str, str]] = {}
    for name, (code, vs) in TOWNS.items():
        towns[name] = code
        towns[code] = code
        villages[code] = {**vs, **{c: c for c in vs.values()}}
    return ReferenceData(
        towns=towns,
        villages=villages,
        categories=CATEGORIES,
        sources=SOURCES,
        tiers=TIERS,
        households=known_households(str(r[2]) for r in HOUSEHOLDS),
        date_range=CAMPAIGN,
    )


# ---------------------------------------------------------------- writers


def write_xlsx(
    path: Path,
    header: Sequence[Any] | None,
    rows: Sequence[Sequence[Any]],
    *,
    title_rows: Sequence[Sequence[Any]] = (),
    sheet: str = "Sheet1",
) -> Path:
    """A plain .xlsx: optional title rows, the header, the rows ("" written as empty)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet
    for row in (*title_rows, *([header] if header is not None else []), *rows):
        ws.append([None if v == "" else v for v in row])
    wb.save(path)
    return path


def write_csv(
    path: Path, header: Sequence[Any], rows: Sequence[Sequence[Any]], encoding: str
) -> Path:
    """A CSV file in `encoding` (use utf-8-sig for a BOM)."""
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow(
                ["" if v is None else v.isoformat() if isinstance(v, dt.date) else v for v in row]
            )
    return path


def write_xls(path: Path, header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> Path:
    """An old-format .xls (BIFF8) written with xlwt; dates as real date cells."""
    import xlwt  # type: ignore[import-untyped]

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("Sheet1")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for r, row in enumerate([header, *rows]):
        for c, v in enumerate(row):
            if v == "" or v is None:
                continue
            if isinstance(v, dt.date):
                ws.write(r, c, v, date_style)
            else:
                ws.write(r, c, v)
    wb.save(str(path))
    return path


def write_encrypted(path: Path) -> Path:
    """A compound-file (CFB) container laid out like a password-protected .xlsx."""
    free, end, fat_sect = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 44, 1)  # number of FAT sectors
    struct.pack_into("<I", header, 48, 1)  # first directory sector
    struct.pack_into("<I", header, 56, 4096)  # mini stream cutoff
    struct.pack_into("<II", header, 60, end, 0)  # no mini FAT
    struct.pack_into("<II", header, 68, end, 0)  # no DIFAT sectors
    struct.pack_into("<I", header, 76, 0)  # DIFAT[0]: the FAT is sector 0
    for i in range(1, 109):
        struct.pack_into("<I", header, 76 + 4 * i, free)
    fat = bytearray(struct.pack("<128I", fat_sect, end, end, *([free] * 125)))

    def entry(name: str, kind: int, start: int, size: int, child: int = free) -> bytes:
        raw = (name + "\0").encode("utf-16-le")
        e = bytearray(128)
        e[0 : len(raw)] = raw
        struct.pack_into("<HBB", e, 64, len(raw), kind, 1)
        struct.pack_into("<III", e, 68, free, free, child)
        struct.pack_into("<II", e, 116, start, size)
        return bytes(e)

    directory = (
        entry("Root Entry", 5, end, 0, child=1)
        + entry("EncryptionInfo", 2, 2, 64)
        + entry("EncryptedPackage", 2, end, 0)
        + bytes(128)
    )
    payload = bytes(range(64)) + bytes(448)
    path.write_bytes(bytes(header) + bytes(fat) + directory + payload)
    return path


def write_png(path: Path) -> Path:
    """A real 1x1 PNG image, whatever the file's extension says."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(png)
    return path


# ---------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One malformed file and where its error must be reported."""

    name: str
    kind: str
    filename: str
    build: Callable[[Path], Path]
    row: int | None  # 1-based sheet row of the error (None: the file as a whole)
    column: str | None  # template header of the error column
    fragment: str  # a piece of the Chinese reason
    needs: str = ""  # an optional module the builder needs


def _mutated(kind: str, row: int, column: str, value: Any) -> list[list[Any]]:
    rows = copy.deepcopy(ROWS_OF[kind])
    rows[row - 2][HEADER_OF[kind].index(column)] = value
    return rows


def _cell(kind: str, row: int, column: str, value: Any) -> Callable[[Path], Path]:
    return lambda p: write_xlsx(p, HEADER_OF[kind], _mutated(kind, row, column, value))


def _drop_column(kind: str, column: str) -> Callable[[Path], Path]:
    i = HEADER_OF[kind].index(column)
    header = [h for j, h in enumerate(HEADER_OF[kind]) if j != i]
    rows = [[v for j, v in enumerate(r) if j != i] for r in ROWS_OF[kind]]
    return lambda p: write_xlsx(p, header, rows)


def _duplicate_id(p: Path) -> Path:
    rows = copy.deepcopy(HOUSEHOLDS)
    rows[2][2] = rows[0][2]
    return write_xlsx(p, H, rows)


def _corrupt_zip(p: Path) -> Path:
    good = write_xlsx(p, H, HOUSEHOLDS).read_bytes()
    p.write_bytes(good[: len(good) // 2])
    return p


def _empty_sheet(p: Path) -> Path:
    wb = Workbook()
    wb.save(p)
    return p


def _header_only(p: Path) -> Path:
    return write_xlsx(p, H, [])


def _zero_bytes(p: Path) -> Path:
    p.write_bytes(b"")
    return p


def _text_renamed(p: Path) -> Path:
    p.write_text("这是一份说明文字，不是表格。\n请勿导入。\n", encoding="utf-8")
    return p


def _offset_table(p: Path) -> Path:
    # Header at C4 with empty rows and columns before it: the error is at F7.
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    rows = _mutated("households", 4, "家庭人口", "四口人")
    for r, row in enumerate([H, *rows], 4):
        for c, v in enumerate(row, 3):
            ws.cell(row=r, column=c, value=None if v == "" else v)
    wb.save(p)
    return p


def _xls_bad_grade(p: Path) -> Path:
    return write_xls(p, H, _mutated("households", 4, "住房安全等级", "E"))


def _csv_gbk_bad_village(p: Path) -> Path:
    return write_csv(p, H, _mutated("households", 2, "村", "不存在村"), "gbk")


def cases() -> list[Case]:
    """Every malformed case: at least one per kind of mistake the brief names."""
    return [
        Case(
            "unknown_village",
            "households",
            "unknown_village.xlsx",
            _cell("households", 3, "村", "火星村"),
            3,
            "村",
            "没有名为“火星村”的村",
        ),
        Case(
            "village_in_wrong_town",
            "households",
            "village_wrong_town.xlsx",
            _cell("households", 2, "村", "白马村"),
            2,
            "村",
            "不属于乡镇“沧沟乡”",
        ),
        Case(
            "bad_date",
            "visits",
            "bad_date.xlsx",
            _cell("visits", 3, "走访日期", "2022-13-45"),
            3,
            "走访日期",
            "日期",
        ),
        Case(
            "date_outside_campaign",
            "visits",
            "date_outside.xlsx",
            _cell("visits", 2, "走访日期", dt.date(2021, 1, 5)),
            2,
            "走访日期",
            "2022-05-01至2022-09-30",
        ),
        Case(
            "text_in_number_column",
            "households",
            "text_number.xlsx",
            _cell("households", 4, "家庭人口", "四口"),
            4,
            "家庭人口",
            "应为数字",
        ),
        Case(
            "missing_required_column",
            "households",
            "missing_column.xlsx",
            _drop_column("households", "户主姓名"),
            1,
            "户主姓名",
            "缺少必填列“户主姓名”",
        ),
        Case(
            "duplicate_household_id",
            "households",
            "duplicate_id.xlsx",
            _duplicate_id,
            4,
            "户编号",
            "与第2行相同",
        ),
        Case(
            "bad_enum",
            "households",
            "bad_enum.xlsx",
            _cell("households", 2, "农户类别", "贫困户2"),
            2,
            "农户类别",
            "不是有效的农户类别",
        ),
        Case(
            "bad_house_grade_xls",
            "households",
            "bad_grade.xls",
            _xls_bad_grade,
            4,
            "住房安全等级",
            "A、B、C、D",
            needs="xlwt",
        ),
        Case(
            "encrypted",
            "households",
            "encrypted.xlsx",
            write_encrypted,
            None,
            None,
            "文件已加密，请去除密码后再导入",
        ),
        Case(
            "png_renamed_xlsx",
            "households",
            "picture.xlsx",
            write_png,
            None,
            None,
            "不是电子表格（内容是PNG图片）",
        ),
        Case(
            "text_renamed_xlsx", "visits", "notes.xlsx", _text_renamed, None, None, "内容是纯文本"
        ),
        Case("corrupt_zip", "households", "corrupt.xlsx", _corrupt_zip, None, None, "已损坏"),
        Case("empty_workbook", "households", "empty.xlsx", _empty_sheet, None, None, "没有数据"),
        Case(
            "header_without_rows",
            "households",
            "header_only.xlsx",
            _header_only,
            None,
            None,
            "表头下面没有数据行",
        ),
        Case("zero_byte_file", "problems", "zero.xlsx", _zero_bytes, None, None, "空文件"),
        Case(
            "proxy_without_answerer",
            "visits",
            "proxy_no_answerer.xlsx",
            _cell("visits", 3, "代答人", ""),
            3,
            "代答人",
            "代答时必须填写代答人",
        ),
        Case(
            "out_of_school_over_school_age",
            "households",
            "dropouts.xlsx",
            _cell("households", 2, "失学辍学儿童数", 3),
            2,
            "失学辍学儿童数",
            "不能大于适龄儿童数",
        ),
        Case(
            "negative_income",
            "households",
            "negative_income.xlsx",
            _cell("households", 3, "年人均纯收入（元）", -1200),
            3,
            "年人均纯收入（元）",
            "不能为负数",
        ),
        Case(
            "monitored_without_type",
            "households",
            "monitored_no_type.xlsx",
            _cell("households", 3, "监测对象类型", ""),
            3,
            "监测对象类型",
            "必须填写监测对象类型",
        ),
        Case(
            "blank_required_cell",
            "households",
            "blank_head.xlsx",
            _cell("households", 5, "户主姓名", "　"),
            5,
            "户主姓名",
            "必填",
        ),
        Case(
            "id_stored_as_big_number",
            "households",
            "id_number.xlsx",
            _cell("households", 2, "户编号", 500156010100100.0 * 1000),
            2,
            "户编号",
            "末尾几位已丢失",
        ),
        Case(
            "unknown_household_in_visits",
            "visits",
            "unknown_household.xlsx",
            _cell("visits", 2, "户编号", "9999999999999"),
            2,
            "户编号",
            "不在农户信息中",
        ),
        Case(
            "unknown_problem_source",
            "problems",
            "unknown_source.xlsx",
            _cell("problems", 3, "问题来源", "微信群"),
            3,
            "问题来源",
            "不是方案中的问题来源",
        ),
        Case(
            "deadline_before_finding",
            "problems",
            "deadline_early.xlsx",
            _cell("problems", 2, "整改时限", dt.date(2022, 5, 1)),
            2,
            "整改时限",
            "早于排查日期",
        ),
        Case(
            "problem_village_wrong_town",
            "problems",
            "problem_wrong_town.xlsx",
            _cell("problems", 3, "村", "关庙村"),
            3,
            "村",
            "不属于乡镇“白马镇”",
        ),
        Case(
            "table_away_from_a1",
            "households",
            "offset_table.xlsx",
            _offset_table,
            7,
            "家庭人口",
            "应为数字",
        ),
        Case(
            "csv_gbk_unknown_village",
            "households",
            "bad_village_gbk.csv",
            _csv_gbk_bad_village,
            2,
            "村",
            "没有名为“不存在村”的村",
        ),
    ]


def build_all(dest: Path) -> list[Path]:
    """Write every case into `dest`; cases whose optional module is missing are left out."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for case in cases():
        if case.needs:
            try:
                __import__(case.needs)
            except ImportError:
                continue
        out.append(case.build(dest / case.filename))
    return out


if __name__ == "__main__":
    for p in build_all(Path(__file__).resolve().parent / "malformed"):
        print(p)
