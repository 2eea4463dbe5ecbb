"""Benchmark: render_notice for many offices against two floors.

Run: `.venv/bin/python bench/documents.py [n_offices] [problems_each]`.
The floor that bounds duban (issue 16): the same shipped template filled with the same context
by docxtpl alone (`DocxTemplate(...).render(context); save`), its per-part clean-up and
compilation done once, with none of duban's layout fitting (mark, title breaks, table widths,
版记), sandbox or dated zip entries. Target: render_notice
within 1.5× of it. The older floor writes the same content with bare python-docx calls and no
template; it starts from python-docx's heavier default document, so it bounds nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from duban.adapters.documents import (
    ContactPerson,
    NoticeContext,
    NoticeItem,
    Requirement,
    render_notice,
)
from duban.domain.numbering import format_date_cn, format_document_number

TOWNS = ("槐店回族镇", "刘庄店镇", "付井镇", "老城镇", "纸店镇", "新安集镇", "白集镇")


def make_context(office_no: int, problems_each: int) -> NoticeContext:
    """A notice to one office with problems_each problems."""
    items = [
        NoticeItem(
            seq=i + 1, code=f"SQ2022-{office_no:03d}{i:03d}", town=TOWNS[i % len(TOWNS)],
            village=f"第{i % 30 + 1}村", household="王秀英",
            description="住房安全等级鉴定为C级，房屋后墙裂缝、雨季漏雨，未纳入危房改造",
            requirement="完成危房改造或加固，补齐鉴定和验收资料",
            deadline=dt.date(2022, 10, 10) + dt.timedelta(days=i % 6), co_offices=("县住建局",),
        )
        for i in range(problems_each)
    ]
    return NoticeContext(
        issuer="沈丘县巩固办", issuer_mark="沈丘县巩固拓展脱贫攻坚成果工作领导小组办公室",
        number=format_document_number("沈巩督", 2022, office_no + 1),
        title="关于住房安全问题整改的督办通知书", addressee=f"责任单位{office_no}",
        intro="根据专项行动工作方案安排，现将需你单位牵头整改的问题予以督办，请限期整改到位。",
        problems=items,
        requirements=[Requirement("每日报告进度。", "请于每天17时前报告当日整改进度。"),
                      Requirement("提交佐证资料。", "整改完成后上传佐证资料。")],
        contact=ContactPerson("刘国强", "0394-5212345"), issued_on=dt.date(2022, 9, 26),
        copy_to=("县委办公室", "县政府办公室"),
    )


def _font(run: Any, name: str, size: float, color: str | None = None) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    rpr = run._r.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    rfonts.set(qn("w:eastAsia"), name)
    if color:
        run.font.color.rgb = RGBColor.from_string(color)


def _para(doc: Any, text: str, font: str = "仿宋_GB2312", size: float = 16,
          align: Any = None, indent: bool = True, color: str | None = None) -> Any:
    p = doc.add_paragraph()
    pf = p.paragraph_format
    pf.line_spacing = Pt(28.95)
    if indent:
        pf.first_line_indent = Pt(32)
    if align is not None:
        p.alignment = align
    _font(p.add_run(text), font, size, color)
    return p


def bare_notice(ctx: NoticeContext, path: Path) -> Path:
    """The floor: the same notice built with python-docx calls, no template."""
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = (
        Mm(37), Mm(35), Mm(28), Mm(26))
    c = WD_ALIGN_PARAGRAPH.CENTER
    _para(doc, ctx.issuer_mark, "方正小标宋简体", 30, c, False, "FF0000")
    num = _para(doc, ctx.number, align=c, indent=False)
    pbdr = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", "12"), ("w:space", "11"), ("w:color", "FF0000")):
        bottom.set(qn(k), v)
    pbdr.append(bottom)
    num._p.get_or_add_pPr().append(pbdr)
    _para(doc, ctx.title, "方正小标宋简体", 22, c, False)
    _para(doc, ctx.addressee + "：", indent=False)
    _para(doc, ctx.intro)
    _para(doc, "一、问题情况", "黑体")
    _para(doc, f"经汇总核实，需你单位牵头整改的问题共{len(ctx.problems)}个。具体问题见附件。")
    _para(doc, "二、整改要求", "黑体")
    for i, r in enumerate(ctx.requirements, 1):
        p = _para(doc, f"（{i}）{r.heading}", "楷体_GB2312")
        _font(p.add_run(r.text), "仿宋_GB2312", 16)
    _para(doc, ctx.issuer, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    _para(doc, format_date_cn(ctx.issued_on), align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    _para(doc, "附件", "黑体", indent=False)
    table = doc.add_table(rows=1, cols=8)
    heads = ["序号", "问题编号", "乡镇（村）", "户主", "问题描述", "整改要求", "整改时限", "配合单位"]
    for cell, h in zip(table.rows[0].cells, heads, strict=True):
        _font(cell.paragraphs[0].add_run(h), "黑体", 10.5)
    for item in ctx.problems:
        cells = table.add_row().cells
        values = [str(item.seq), item.code, item.location, item.household, item.description,
                  item.requirement,
                  # a deadline waiting for the notice's 签收 is words, kept as they are
                  item.deadline if isinstance(item.deadline, str) else format_date_cn(item.deadline),
                  item.co_offices_text]
        for cell, v in zip(cells, values, strict=True):
            _font(cell.paragraphs[0].add_run(v), "仿宋_GB2312", 10.5)
    _para(doc, "抄送：" + "，".join(ctx.copy_to) + "。", size=14, indent=False)
    _para(doc, f"{ctx.printer_name}\t{format_date_cn(ctx.printed_date)}印发", size=14,
          indent=False)
    footer = sec.footer.paragraphs[0]
    _font(footer.add_run("— 1 —"), "宋体", 14)
    doc.save(str(path))
    return path


def template_floor(ctx: NoticeContext, path: Path) -> Path:
    """The floor: the shipped notice.docx filled with the same context by docxtpl alone.

    docxtpl used at its fastest: the template file read once, each part's tag clean-up and
    Jinja compilation (the core properties' too) done once, an ordinary Jinja environment;
    its listing and table passes skipped where they would change nothing, and the package
    written by the zip writer that reuses the deflate streams of parts written before
    (duban's `save_stamped`). What remains per notice is docxtpl's own work: open the
    package, render, parse and save. duban adds the sandbox, the layout fitting and the
    atomic rename.
    """
    from duban.adapters.documents.render import save_stamped

    tpl = _floor_template(io.BytesIO(_floor_bytes()))
    tpl.render(_floor_context(ctx), _plain_env())
    save_stamped(tpl, path, ctx.issued_on)
    return path


@functools.cache
def _floor_bytes() -> bytes:
    from duban.adapters.documents.render import SHIPPED_TEMPLATE_DIR

    return (SHIPPED_TEMPLATE_DIR / "notice.docx").read_bytes()


def _floor_context(ctx: NoticeContext) -> dict[str, Any]:
    from duban.adapters.documents.render import context_dict

    return context_dict(ctx)


@functools.lru_cache(maxsize=16)
def _floor_patched(src_xml: str) -> str:
    from docxtpl import DocxTemplate

    return str(DocxTemplate.patch_xml(None, src_xml))


@functools.lru_cache(maxsize=16)
def _floor_compiled(src_xml: str) -> Any:
    return _plain_env().from_string(src_xml)


def _floor_class() -> type:
    from docxtpl import DocxTemplate
    from lxml import etree

    from duban.adapters.documents import render

    class FloorTemplate(DocxTemplate):
        """docxtpl with its per-render clean-up and compilation done once per part, and its
        passes that would change nothing skipped (as duban skips them: a floor that did more
        than duban's own path bounded nothing, 0.94–1.01× on 2026-12-05)."""

        def patch_xml(self, src_xml: str) -> str:
            return _floor_patched(src_xml)

        def render_xml_part(self, src_xml: str, part: Any, context: Any,
                            jinja_env: Any = None) -> str:
            self.current_rendering_part = part
            dst_xml = _floor_compiled(src_xml).render(context)
            dst_xml = (dst_xml.replace("{_{", "{{").replace("}_}", "}}")
                       .replace("{_%", "{%").replace("%_}", "%}"))
            if render._LISTING_TEXT.search(dst_xml) is None:
                return dst_xml
            return str(self.resolve_listing(dst_xml))

        def render_properties(self, context: Any, jinja_env: Any = None) -> None:
            core = self.docx.core_properties
            for prop in render._PROPERTIES:
                setattr(core, prop, _floor_compiled(getattr(core, prop)).render(context))

        def fix_tables(self, xml: str) -> Any:
            tree = etree.fromstring(xml, parser=etree.XMLParser(recover=True))
            if all(render._rows_match_grid(t) for t in tree.iter(render._W_TBL)):
                return tree
            return super().fix_tables(xml)

    return FloorTemplate


def _floor_template(source: io.BytesIO) -> Any:
    return _floor_class_cached()(source)


@functools.cache
def _floor_class_cached() -> type:
    return _floor_class()


@functools.cache
def _plain_env() -> Any:
    """An ordinary Jinja environment with the templates' three filters (no sandbox)."""
    import jinja2

    from duban.adapters.documents.render import jinja_env

    env = jinja2.Environment(autoescape=True)
    env.filters.update({k: jinja_env().filters[k] for k in ("cn_date", "cn_numeral", "score")})
    return env


def run(n_offices: int = 500, problems_each: int = 20, *, bare: bool = True
        ) -> dict[str, float]:
    """Time render_notice, the template floor and (`bare`) the bare python-docx floor."""
    # The benchmark suite times the bare floor itself (its notices' floor): not twice.
    contexts = [make_context(i, problems_each) for i in range(n_offices)]
    with tempfile.TemporaryDirectory(prefix="duban-bench-docs-") as tmp:
        out = Path(tmp)
        # embed=False: the floor embeds no fonts; embedding is timed on its own (embedding())
        render_notice(contexts[0], out / "warm.docx", embed=False)  # template load, compile
        if bare:
            bare_notice(contexts[0], out / "warm-bare.docx")
        template_floor(contexts[0], out / "warm-template.docx")
        # duban and its template floor alternate notice by notice, so a change in the machine's
        # load (it is shared) weighs on both alike instead of on whichever block ran then.
        rendered_s = template_s = 0.0
        for i, ctx in enumerate(contexts):
            t0 = time.perf_counter()
            render_notice(ctx, out / f"n{i}.docx", embed=False)
            t1 = time.perf_counter()
            template_floor(ctx, out / f"t{i}.docx")
            t2 = time.perf_counter()
            rendered_s += t1 - t0
            template_s += t2 - t1
        floor_s = None
        if bare:
            t0 = time.perf_counter()
            for i, ctx in enumerate(contexts):
                bare_notice(ctx, out / f"b{i}.docx")
            floor_s = time.perf_counter() - t0
    measured = {
        "n_offices": n_offices,
        "problems_each": problems_each,
        "render_s": round(rendered_s, 3),
        "notices_per_s": round(n_offices / rendered_s, 1),
        "ms_per_notice": round(rendered_s / n_offices * 1000, 2),
        "template_floor_s": round(template_s, 3),
        "ratio_to_template_floor": round(rendered_s / template_s, 2),
    }
    if floor_s is not None:
        measured.update({"floor_s": round(floor_s, 3),
                         "floor_per_s": round(n_offices / floor_s, 1),
                         "ratio_to_floor": round(rendered_s / floor_s, 2)})
    return measured


def embedding(n_offices: int = 500, problems_each: int = 20) -> dict[str, float]:
    """What embedding the shipped fonts adds to render_notice, per notice (CPU and wall).

    Notices with and without embedding alternate. "batch": the faces a batch shares (title,
    mark, headings, page numbers) come from the subset cache, as when a batch is issued;
    "uncached": every face subset again for every notice (the bound for unrelated documents).
    """
    from duban.adapters.documents import fonts

    contexts = [make_context(i, problems_each) for i in range(n_offices)]
    times = {"plain": [0.0, 0.0], "batch": [0.0, 0.0], "uncached": [0.0, 0.0]}
    with tempfile.TemporaryDirectory(prefix="duban-bench-fonts-") as tmp:
        out = Path(tmp)
        started = (time.perf_counter(), time.process_time())
        render_notice(contexts[0], out / "warm.docx")  # parses the shipped fonts once
        load = (time.perf_counter() - started[0], time.process_time() - started[1])
        for i, ctx in enumerate(contexts):
            for mode in ("plain", "batch", "uncached"):
                if mode == "uncached":
                    fonts._embedded.cache_clear()
                w, c = time.perf_counter(), time.process_time()
                render_notice(ctx, out / f"{mode}{i}.docx", embed=mode != "plain")
                times[mode][0] += time.perf_counter() - w
                times[mode][1] += time.process_time() - c
        sizes = {mode: (out / f"{mode}0.docx").stat().st_size for mode in times}
    ms = {mode: [round(v / n_offices * 1000, 2) for v in pair] for mode, pair in times.items()}
    return {
        "n_offices": n_offices, "problems_each": problems_each,
        "font_load_s_wall": round(load[0], 2), "font_load_s_cpu": round(load[1], 2),
        "render_ms_wall": ms["plain"][0], "render_ms_cpu": ms["plain"][1],
        "batch_embed_ms_wall": round(ms["batch"][0] - ms["plain"][0], 2),
        "batch_embed_ms_cpu": round(ms["batch"][1] - ms["plain"][1], 2),
        "uncached_embed_ms_wall": round(ms["uncached"][0] - ms["plain"][0], 2),
        "uncached_embed_ms_cpu": round(ms["uncached"][1] - ms["plain"][1], 2),
        "ratio_batch": round(times["batch"][1] / times["plain"][1], 2),
        "ratio_uncached": round(times["uncached"][1] / times["plain"][1], 2),
        "bytes_plain": sizes["plain"], "bytes_embedded": sizes["batch"],
    }


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(run(*args), ensure_ascii=False, indent=2))
    print(json.dumps(embedding(*args), ensure_ascii=False, indent=2))
