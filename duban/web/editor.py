"""The county office's plan editor (方案编辑): build, check, try, launch and amend a plan.

A draft starts from a shipped seed plan, a previous campaign, an uploaded YAML or blank, and is
edited section by section in forms (`editor_form`): every save is a new version of the draft
(services/plan_drafts), checked at once by the plan's own reader (`wire.parse_plan`, the same
errors as `duban plan check`, placed beside their fields) with `lint_plan`'s remarks as
warnings. "试一试" routes and dates pasted ledger rows (domain/plan_trial). Launching uses the
launch service; a draft of a running campaign is previewed and applied through the amendment
page's service (duban/web/amend.py). County office only; drafts belong to the user's office.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from duban.adapters.resources import resource_dir
from duban.domain.clock import local_today
from duban.domain.errors import ConflictError, DubanError, NotFound
from duban.domain.lifecycle import Role
from duban.domain.plan import Plan, StageKind
from duban.domain.plan_check import PlanInvalid
from duban.services.views.names import person_labels
from duban.web import editor_form as ef
from duban.web.deps import WebState, csrf_session, current, state
from duban.web.pages import CtxDep, campaign_of, page
from duban.web.security import Ctx
from duban.web.work import MAX_PLAN_BYTES, _back, require_role

router = APIRouter(dependencies=[Depends(current), Depends(csrf_session)])

PLANS_DIR = resource_dir("plans")
MAX_LIST_BYTES = 5 * 1024 * 1024
MAX_TRY_ROWS = 200


def _office(ctx: Ctx) -> str:
    """Drafts belong to the county user's office."""
    return ctx.user.office_code or "county"


def seed_plans() -> list[tuple[str, str]]:
    """(file name, plan name) of each shipped seed plan."""
    from duban.adapters.plan.yaml_file import read_plan_data

    out = []
    for path in sorted(PLANS_DIR.glob("seed-*.yaml")):
        try:
            name = str(read_plan_data(path.read_text(encoding="utf-8"), path.parent)
                       .get("name") or path.stem)
        except DubanError:
            name = path.stem
        out.append((path.name, name))
    return out


# ---- checking a draft --------------------------------------------------------------------


@dataclass
class Checked:
    """A draft's data and what the plan's reader says of it."""

    data: dict[str, Any]
    plan: Plan | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, message)
    warnings: list[str] = field(default_factory=list)
    unreadable: str = ""  # the draft's text is not YAML at all (an uploaded file)

    def by_section(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for path, _ in self.errors:
            key = ef.section_of_path(path)
            counts[key] = counts.get(key, 0) + 1
        return counts


def check(text: str) -> Checked:
    """Read the draft's text and check the plan it holds."""
    from duban.adapters.plan.wire import parse_plan
    from duban.adapters.plan.yaml_file import read_plan_data
    from duban.services.plan_warnings import plan_warnings

    try:
        data = read_plan_data(text)
    except PlanInvalid as exc:
        return Checked({}, errors=[(e.path, e.message) for e in exc.errors],
                       unreadable=exc.message)
    try:
        plan = parse_plan(copy.deepcopy(data))
    except PlanInvalid as exc:
        return Checked(data, errors=[(e.path, e.message) for e in exc.errors])
    return Checked(data, plan, warnings=plan_warnings(plan))


def dump(data: dict[str, Any]) -> str:
    from duban.adapters.plan.yaml_file import dump_plan_data

    return dump_plan_data(data)


# ---- the pages ---------------------------------------------------------------------------


@router.get("/plans/drafts", include_in_schema=False)
def drafts_page(request: Request, ctx: CtxDep) -> Response:
    """The office's drafts and the ways to start one."""
    return _drafts(request, ctx)


def _drafts(request: Request, ctx: Ctx, kept: dict[str, str] | None = None,
            status_code: int = 200) -> Response:
    """The drafts page; a refused start (kept: which way, the reason, the title and file name)
    is drawn again beside its form."""
    from duban.services.campaigns import list_campaigns
    from duban.services.plan_drafts import drafts_of

    st = state(request)
    require_role(ctx, Role.COUNTY)
    campaigns, chosen = campaign_of(st, None)
    with st.db.unit_of_work() as uow:
        drafts = drafts_of(uow, _office(ctx))
        people = person_labels(uow.connection, [d.saved_by for d in drafts])
    rows = st.db.run(list_campaigns, local_today(st.clock))
    return page(st, ctx, "editor_start.html", "editor", campaign=chosen, campaigns=campaigns,
                drafts=drafts, seeds=seed_plans(), runs=rows, people=people,
                kept=kept or {}, status_code=status_code)


def _campaign_text(st: WebState, campaign_id: int) -> tuple[str, str]:
    """A campaign's plan in force as editor YAML (a scope table's towns written out)."""
    from sqlalchemy import select

    from duban.adapters.plan.yaml_file import read_plan_data
    from duban.services.plan_store import plan_in_force, plan_version_of
    from models.tables import campaign, plan_version

    with st.db.unit_of_work() as uow:
        conn = uow.connection
        version = plan_version_of(conn, campaign_id)
        source = conn.scalar(select(plan_version.c.source).where(
            plan_version.c.campaign_id == campaign_id, plan_version.c.version == version))
        name = conn.scalar(select(campaign.c.name).where(campaign.c.id == campaign_id))
        plan = plan_in_force(conn, campaign_id)
    text = str(source or "")
    try:
        data = read_plan_data(text, PLANS_DIR)
    except PlanInvalid:
        # a scope table that is not at hand: the towns the campaign runs with, written out
        import yaml

        raw = yaml.safe_load(text)
        data = raw if isinstance(raw, dict) else {}
        data.pop("scope", None)
        data["towns"] = [
            {"code": t.code, "name": t.name, **({"liaison": t.liaison} if t.liaison else {}),
             "villages": [{"code": v.code, "name": v.name} for v in t.villages]}
            for t in plan.towns]
    return dump(data), f"{name}（第{version}版）"


@router.post("/plans/drafts", include_in_schema=False)
async def start_draft(
    request: Request, ctx: CtxDep,
    origin: Annotated[str, Form()],
    seed: Annotated[str, Form(max_length=200)] = "",
    campaign_id: Annotated[int | None, Form()] = None,
    title: Annotated[str, Form(max_length=200)] = "",
    plan: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Start a draft: blank, a seed plan, a campaign's plan (a copy or its amendment), a YAML."""
    from duban.adapters.plan.yaml_file import read_plan_data
    from duban.services.plan_drafts import create_draft

    st = state(request)
    require_role(ctx, Role.COUNTY)
    amends: int | None = None
    if origin == "blank":
        text, label = dump(copy.deepcopy(ef.BLANK)), "空白"
    elif origin == "seed":
        path = PLANS_DIR / Path(seed).name
        if not seed or not path.is_file() or path.suffix != ".yaml":
            raise DubanError("请选择一个示范方案")
        data = await run_in_threadpool(read_plan_data, path.read_text(encoding="utf-8"),
                                       path.parent)
        text, label = dump(data), f"示范方案 {path.name}"
    elif origin in ("campaign", "amend"):
        if campaign_id is None:
            raise DubanError("请选择一项行动")
        _, chosen = campaign_of(st, campaign_id)
        if chosen is None or chosen.id != campaign_id:
            raise NotFound(f"行动不存在：编号 {campaign_id}")
        text, source = await run_in_threadpool(_campaign_text, st, campaign_id)
        label = f"{'修订' if origin == 'amend' else '以行动为底稿'}：{source}"
        amends = campaign_id if origin == "amend" else None
    elif origin == "upload":
        try:
            text, label = await _uploaded_text(plan)
        except DubanError as exc:  # the page again, the file named to choose again
            return _drafts(request, ctx, kept={
                "origin": "upload", "error": exc.message,
                "filename": Path(plan.filename).name if plan and plan.filename else ""},
                status_code=422)
    else:
        raise DubanError("请选择从哪里开始")
    name = title.strip() or str(ef.get_at(_safe_data(text), "name") or "") or "未命名方案"

    def create() -> int:
        with st.db.unit_of_work() as uow:
            draft_id = create_draft(uow, st.clock, office=_office(ctx), username=ctx.username,
                                    title=name, origin=label, text=text, campaign_id=amends)
            uow.commit()
            return draft_id

    draft_id = await run_in_threadpool(create)
    return _back(request, st, f"/plans/drafts/{draft_id}", ok=f"已新建方案草稿：{name}")


async def _uploaded_text(plan: UploadFile | None) -> tuple[str, str]:
    """An uploaded plan file as editor YAML and the draft's origin label."""
    from duban.adapters.plan.yaml_file import read_plan_data

    if plan is None or not plan.filename:
        raise DubanError("请选择方案文件（.yaml）")
    raw = await plan.read(MAX_PLAN_BYTES + 1)
    if len(raw) > MAX_PLAN_BYTES:
        raise DubanError("方案文件超过 2 MB，请检查是否选错了文件")
    try:
        uploaded = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DubanError("方案文件不是 UTF-8 编码的文本（YAML），请用记事本另存为 UTF-8") from None
    try:
        data = await run_in_threadpool(read_plan_data, uploaded)
    except PlanInvalid as exc:
        lines = "；".join(str(e) for e in exc.errors[:5])
        raise DubanError(f"{plan.filename} 不是可读的方案文件：{lines}") from None
    return dump(data), f"上传 {Path(plan.filename).name}"


def _safe_data(text: str) -> dict[str, Any]:
    from duban.adapters.plan.yaml_file import read_plan_data

    try:
        return read_plan_data(text)
    except PlanInvalid:
        return {}


def _draft(st: WebState, ctx: Ctx, draft_id: int) -> Any:
    from duban.services.plan_drafts import draft_of

    with st.db.unit_of_work() as uow:
        return draft_of(uow, draft_id, _office(ctx))


@dataclass
class Bar:
    """One stage on the timeline (percentages of the axis)."""

    name: str
    start: dt.date
    end: dt.date | None
    left: float = 0.0
    width: float = 0.0


def timeline(data: dict[str, Any]) -> dict[str, Any] | None:
    """The stages as bars on one axis, with overlaps and gaps between consecutive stages."""
    stages = data.get("stages")
    if not isinstance(stages, list):
        return None
    bars: list[Bar] = []
    for s in stages:
        if not isinstance(s, dict):
            continue
        start = _day(s.get("start"))
        if start is not None:
            bars.append(Bar(str(s.get("name") or s.get("kind") or ""), start, _day(s.get("end"))))
    if not bars:
        return None
    first = min(b.start for b in bars)
    last = max(b.end or b.start for b in bars)
    span = max((last - first).days + 1, 1)
    notes = []
    for a, b in itertools.pairwise(sorted(bars, key=lambda b: b.start)):
        if a.end is None:
            continue
        if b.start <= a.end:
            notes.append(f"“{a.name}”与“{b.name}”重叠 {(a.end - b.start).days + 1} 天")
        elif (b.start - a.end).days > 1:
            notes.append(f"“{a.name}”与“{b.name}”之间空档 {(b.start - a.end).days - 1} 天")
    for b in bars:
        end = b.end or last
        b.left = round((b.start - first).days / span * 100, 2)
        b.width = max(round(((end - b.start).days + 1) / span * 100, 2), 1)
    return {"bars": bars, "first": first, "last": last, "notes": notes}


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def ladder(data: dict[str, Any]) -> dict[str, Any] | None:
    """The reminder rungs on a working-day axis around the deadline (day 0)."""
    rungs = ef.get_at(data, "reminders.rungs")
    if not isinstance(rungs, list) or not rungs:
        return None
    points = []
    for r in rungs:
        if not isinstance(r, dict):
            continue
        offset = r.get("offset")
        share = r.get("share_left")
        if isinstance(offset, int) and not isinstance(offset, bool):
            points.append({"name": r.get("name", ""), "offset": offset,
                           "label": f"{'+' if offset > 0 else ''}{offset} 个工作日"})
        elif isinstance(share, int | float):
            points.append({"name": r.get("name", ""), "offset": None,
                           "label": f"剩余 {round(share * 100)}% 时间"})
    numbers = [p["offset"] for p in points if p["offset"] is not None]
    low, high = min([*numbers, -3]), max([*numbers, 3])
    for p in points:
        value = p["offset"] if p["offset"] is not None else low
        p["left"] = round((value - low) / max(high - low, 1) * 100, 2)
    zero = round((0 - low) / max(high - low, 1) * 100, 2)
    return {"points": points, "zero": zero, "low": low, "high": high}


def _editor(st: WebState, ctx: Ctx, draft: Any, section_key: str, *,
            checked: Checked | None = None, posted_problems: list[str] | None = None,
            trial: Any = None, alert: str = "", status_code: int = 200,
            forms: list[ef.PartForm] | None = None) -> Response:
    checked = checked or check(draft.text)
    section = ef.SECTION_OF.get(section_key)
    campaigns, chosen = campaign_of(st, None)
    rest: list[tuple[str, str]] = []
    if section is not None:
        if forms is None:
            forms = ef.form_of(section, checked.data)
        mine = [(p, m) for p, m in checked.errors if ef.section_of_path(p) == section.key]
        rest = ef.place_errors(forms, mine, section)
    with st.db.unit_of_work() as uow:
        people = person_labels(uow.connection, [draft.saved_by, *(
            v.saved_by for v in (trial or {}).get("versions", []))])
    return page(st, ctx, "editor.html", "editor", campaign=chosen, campaigns=campaigns,
                people=people,
                draft=draft, sections=ef.SECTIONS, section=section, section_key=section_key,
                forms=forms or [], checked=checked, counts=checked.by_section(),
                rest=rest, posted_problems=posted_problems or [], trial=trial, alert=alert,
                timeline=timeline(checked.data) if section_key == "stages" else None,
                ladder=ladder(checked.data) if section_key == "reminders" else None,
                runs=campaigns if section_key == "towns" else [], status_code=status_code)


@router.get("/plans/drafts/{draft_id}", include_in_schema=False)
def draft_page(request: Request, ctx: CtxDep, draft_id: int,
               section: str = "basics") -> Response:
    """One section of the draft as a form, with the plan's errors and warnings."""
    st = state(request)
    require_role(ctx, Role.COUNTY)
    draft = _draft(st, ctx, draft_id)
    if section not in ef.SECTION_OF and section not in ("try", "versions"):
        section = "basics"
    if section == "versions":
        from duban.services.plan_drafts import versions_of

        with st.db.unit_of_work() as uow:
            versions = versions_of(uow, draft_id, _office(ctx))
        return _editor(st, ctx, draft, "versions", trial={"versions": versions})
    return _editor(st, ctx, draft, section)


def _save(st: WebState, ctx: Ctx, draft_id: int, text: str, expect_version: int,
          note: str) -> int:
    from duban.services.plan_drafts import save_version

    with st.db.unit_of_work() as uow:
        version = save_version(uow, st.clock, draft_id, _office(ctx), text=text,
                               username=ctx.username, expect_version=expect_version,
                               note=note)
        uow.commit()
        return version


def _shown_texts(st: WebState, ctx: Ctx, draft_id: int, version: int,
                 section: ef.Section) -> dict[str, str] | None:
    """The section's inputs as version `version` of the draft showed them (None: unknown)."""
    from duban.services.plan_drafts import version_text

    try:
        with st.db.unit_of_work() as uow:
            text = version_text(uow, draft_id, _office(ctx), version)
    except DubanError:
        return None
    return ef.form_texts(section, check(text).data)


@router.post("/plans/drafts/{draft_id}/sections/{section_key}", include_in_schema=False)
async def save_section(request: Request, ctx: CtxDep, draft_id: int,
                       section_key: str) -> Response:
    """Save one section's form as a new version; fields that cannot be read keep the page."""
    st = state(request)
    require_role(ctx, Role.COUNTY)
    section = ef.SECTION_OF.get(section_key)
    if section is None:
        raise NotFound("没有这一部分")
    form = await request.form(max_fields=50_000)  # a county: hundreds of villages × 7
    posted = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    draft = await run_in_threadpool(_draft, st, ctx, draft_id)
    expect = ef._int(posted.get("expect_version"), -1)
    before = await run_in_threadpool(check, draft.text)
    data, problems = ef.apply_form(section, before.data, posted)
    if problems:  # the form again as typed, the unreadable fields named above it
        return _editor(st, ctx, draft, section_key, checked=before, posted_problems=problems,
                       alert="有填写无法识别，未保存：", status_code=422,
                       forms=ef.kept_form(section, before.data, posted))
    text = dump(data)
    try:
        version = await run_in_threadpool(_save, st, ctx, draft_id, text, expect,
                                          f"编辑“{section.label}”")
    except ConflictError as exc:
        # Saved by someone else meanwhile: their version, with what this user changed on it.
        shown = await run_in_threadpool(_shown_texts, st, ctx, draft_id, expect, section)
        return _editor(st, ctx, draft, section_key, alert=exc.message + "；您的修改已保留在下方，"
                       "核对后再保存", status_code=409, checked=before,
                       forms=ef.kept_form(section, before.data, posted, shown))
    after = await run_in_threadpool(check, text)
    mine = sum(1 for p, _ in after.errors if ef.section_of_path(p) == section_key)
    ok = f"已保存为第 {version} 版。" + (f"本部分有 {mine} 处错误，见各字段旁。" if mine else
                                      ("方案校验通过。" if after.plan else
                                       f"方案其他部分还有 {len(after.errors)} 处错误。"))
    return _back(request, st, f"/plans/drafts/{draft_id}?section={section_key}", ok=ok)


@router.post("/plans/drafts/{draft_id}/import/{kind}", include_in_schema=False)
async def import_list(request: Request, ctx: CtxDep, draft_id: int, kind: str,
                      file: Annotated[UploadFile, File()],
                      expect_version: Annotated[int, Form()]) -> Response:
    """Merge an Excel list into the draft: offices (办室名单) or towns and villages (乡镇村名单)."""
    st = state(request)
    require_role(ctx, Role.COUNTY)
    if kind not in ("offices", "towns"):
        raise NotFound("没有这种名单")
    draft = await run_in_threadpool(_draft, st, ctx, draft_id)
    content = await file.read(MAX_LIST_BYTES + 1)
    if len(content) > MAX_LIST_BYTES:
        raise DubanError("名单文件超过 5 MB，请检查是否选错了文件")
    name = Path(file.filename or "名单.xlsx").name
    suffix = Path(name).suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".xls", ".ods", ".csv"):
        return _editor(st, ctx, draft, kind, alert=f"{name}：请上传 Excel（.xlsx）或 CSV 文件",
                       status_code=422)

    def read() -> tuple[list[Any], list[str]]:
        from duban.adapters.plan.lists import read_office_list
        from duban.adapters.plan.scope import read_scope_table

        with tempfile.TemporaryDirectory(prefix="duban-list-") as tmp:
            path = Path(tmp) / name
            path.write_bytes(content)
            if kind == "offices":
                return read_office_list(path)
            towns, _, errors = read_scope_table(path, None)
            return towns, [str(e) for e in errors]

    items, errors = await run_in_threadpool(read)
    if errors:
        return _editor(st, ctx, draft, kind, posted_problems=errors,
                       alert=f"{name} 有 {len(errors)} 处错误，未导入：", status_code=422)
    before = await run_in_threadpool(check, draft.text)
    data = copy.deepcopy(before.data)
    added, updated = merge_list(data, kind, items)
    text = dump(data)
    try:
        version = await run_in_threadpool(_save, st, ctx, draft_id, text, expect_version,
                                          f"导入{'办室' if kind == 'offices' else '乡镇村'}名单 {name}")
    except ConflictError as exc:
        return _editor(st, ctx, draft, kind, alert=exc.message, status_code=409)
    what = "办室" if kind == "offices" else "村"
    return _back(request, st, f"/plans/drafts/{draft_id}?section={kind}",
                 ok=f"已从 {name} 导入：新增{what} {added} 个，更新 {updated} 个（第 {version} 版）。")


@router.post("/plans/drafts/{draft_id}/import-towns-from", include_in_schema=False)
async def import_towns_from_campaign(request: Request, ctx: CtxDep, draft_id: int,
                                     campaign_id: Annotated[int, Form()],
                                     expect_version: Annotated[int, Form()]) -> Response:
    """Merge the towns and villages a campaign already runs with (its register) into the draft."""
    from duban.services.plan_store import plan_in_force

    st = state(request)
    require_role(ctx, Role.COUNTY)
    draft = await run_in_threadpool(_draft, st, ctx, draft_id)
    _, chosen = campaign_of(st, campaign_id)
    if chosen is None or chosen.id != campaign_id:
        raise NotFound(f"行动不存在：编号 {campaign_id}")

    def towns() -> list[Any]:
        with st.db.unit_of_work() as uow:
            plan = plan_in_force(uow.connection, campaign_id)
        return [{"code": t.code, "name": t.name,
                 "villages": [{"code": v.code, "name": v.name} for v in t.villages]}
                for t in plan.towns]

    items = await run_in_threadpool(towns)
    before = await run_in_threadpool(check, draft.text)
    data = copy.deepcopy(before.data)
    added, updated = merge_list(data, "towns", items)
    try:
        version = await run_in_threadpool(_save, st, ctx, draft_id, dump(data), expect_version,
                                          f"从行动“{chosen.name}”导入乡镇村")
    except ConflictError as exc:
        return _editor(st, ctx, draft, "towns", alert=exc.message, status_code=409)
    return _back(request, st, f"/plans/drafts/{draft_id}?section=towns",
                 ok=f"已从行动“{chosen.name}”导入：新增村 {added} 个，已有 {updated} 个（第 {version} 版）。")


def merge_list(data: dict[str, Any], kind: str, items: list[Any]) -> tuple[int, int]:
    """Merge imported offices (by name) or towns and villages (by name) into the data."""
    added = updated = 0
    if kind == "offices":
        offices = data.get("offices")
        if not isinstance(offices, list):
            offices = data["offices"] = []
        by_name = {o.get("name"): o for o in offices if isinstance(o, dict)}
        for item in items:
            existing = by_name.get(item["name"])
            if existing is None:
                offices.append(item)
                added += 1
            else:
                existing.update({k: v for k, v in item.items() if k != "code"})
                updated += 1
        return added, updated
    towns = data.get("towns")
    if not isinstance(towns, list):
        towns = data["towns"] = []
    for i, t in enumerate(towns):
        if isinstance(t, str):
            towns[i] = {"name": t}
    by_town = {t.get("name"): t for t in towns if isinstance(t, dict)}
    for item in items:
        town = by_town.get(item["name"])
        if town is None:
            towns.append(item)
            by_town[item["name"]] = item
            added += len(item.get("villages", []))
            continue
        villages = town.setdefault("villages", [])
        names = {v.get("name") if isinstance(v, dict) else v for v in villages}
        for v in item.get("villages", []):
            if v.get("name") in names:
                updated += 1
            else:
                villages.append(v)
                added += 1
    return added, updated


@router.get("/plans/drafts/{draft_id}/plan.yaml", include_in_schema=False)
def download(request: Request, ctx: CtxDep, draft_id: int, version: int | None = None) -> Response:
    """The draft as a YAML file (`duban plan check` and `duban campaign launch` read it)."""
    from urllib.parse import quote

    from duban.services.plan_drafts import version_text

    st = state(request)
    require_role(ctx, Role.COUNTY)
    draft = _draft(st, ctx, draft_id)
    text = draft.text
    if version is not None:
        with st.db.unit_of_work() as uow:
            text = version_text(uow, draft_id, _office(ctx), version)
    filename = f"{draft.title}-第{version or draft.version}版.yaml"
    return Response(text.encode("utf-8"), media_type="application/x-yaml; charset=utf-8",
                    headers={"Content-Disposition":
                             f"attachment; filename*=UTF-8''{quote(filename)}"})


# ---- 试一试 ------------------------------------------------------------------------------


def _resolve(plan: Plan, kind: str, value: str) -> str | None:
    lists: dict[str, list[Any]] = {"category": list(plan.categories),
                                   "source": list(plan.sources), "town": list(plan.towns)}
    items = lists[kind]
    for item in items:
        if value in (item.code, item.name):
            return str(item.code)
    return None


def read_trial_rows(plan: Plan, text: str, today: dt.date) -> tuple[list[Any], list[str]]:
    """Pasted rows (类别, 来源, 乡镇, 村, 发现日期; tab, comma or 、-separated) as TrialRows."""
    import re

    from duban.domain.plan_trial import TrialRow

    rows: list[TrialRow] = []
    problems: list[str] = []
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for n, line in enumerate(lines[:MAX_TRY_ROWS], start=1):
        cells = [c.strip() for c in re.split(r"\t|,|，", line)]
        if n == 1 and cells and cells[0] in ("类别", "问题类别"):
            continue
        cells += [""] * (5 - len(cells))
        category = _resolve(plan, "category", cells[0])
        source = _resolve(plan, "source", cells[1])
        town = _resolve(plan, "town", cells[2]) if cells[2] else ""
        if category is None:
            problems.append(f"第{n}行 类别“{cells[0]}”不在方案中")
        if source is None:
            problems.append(f"第{n}行 来源“{cells[1]}”不在方案中")
        if town is None:
            problems.append(f"第{n}行 乡镇“{cells[2]}”不在方案中")
        village = None
        if cells[3] and town:
            t = next(t for t in plan.towns if t.code == town)
            village = next((v.code for v in t.villages if cells[3] in (v.code, v.name)), None)
            if village is None:
                problems.append(f"第{n}行 村“{cells[3]}”不在{t.name}的村名单中")
        found = today
        if cells[4]:
            try:
                found = dt.date.fromisoformat(cells[4].replace("/", "-"))
            except ValueError:
                problems.append(f"第{n}行 发现日期“{cells[4]}”应写成 2022-09-20")
        if category and source and town is not None:
            rows.append(TrialRow(category, source, town or "", village, found))
    if len(lines) > MAX_TRY_ROWS:
        problems.append(f"一次最多试 {MAX_TRY_ROWS} 行")
    return rows, problems


@router.post("/plans/drafts/{draft_id}/try", include_in_schema=False)
async def try_rows_page(request: Request, ctx: CtxDep, draft_id: int,
                        rows: Annotated[str, Form(max_length=100_000)] = "") -> Response:
    """Where the pasted rows would go, their deadlines and why; rules that never fire."""
    from duban.domain.plan_trial import silent_rules, try_rows

    st = state(request)
    require_role(ctx, Role.COUNTY)
    draft = await run_in_threadpool(_draft, st, ctx, draft_id)
    checked = await run_in_threadpool(check, draft.text)
    if checked.plan is None:
        return _editor(st, ctx, draft, "try", checked=checked, status_code=422,
                       alert="方案还有错误，改正后才能试。")
    plan = checked.plan
    today = local_today(st.clock)
    parsed, problems = read_trial_rows(plan, rows, today)
    results = try_rows(plan, st.root.calendar, parsed, today)
    names = {**{c.code: c.name for c in plan.categories}, **{s.code: s.name for s in plan.sources},
             **{t.code: t.name for t in plan.towns},
             **{v.code: v.name for t in plan.towns for v in t.villages}}
    silent = silent_rules(plan)
    stage = plan.stage(StageKind.RECTIFY)
    return _editor(st, ctx, draft, "try", checked=checked, trial={
        "text": rows, "results": results, "problems": problems, "names": names,
        "silent": silent, "rectify_end": stage.end if stage else None},
        status_code=422 if problems and not results else 200)


# ---- launch and amend --------------------------------------------------------------------


@router.post("/plans/drafts/{draft_id}/launch", include_in_schema=False)
async def launch(request: Request, ctx: CtxDep, draft_id: int,
                 expect_version: Annotated[int, Form()]) -> Response:
    """Launch the draft as a new campaign (a valid plan, the version the page showed)."""
    from duban.services.campaigns import launch_campaign
    from duban.services.plan_drafts import mark_launched

    st = state(request)
    require_role(ctx, Role.COUNTY)
    draft = await run_in_threadpool(_draft, st, ctx, draft_id)
    if draft.campaign_id is not None:
        raise DubanError("这份草稿是进行中行动的修订稿，请用“预览修订”")
    if draft.launched_campaign_id is not None:
        raise DubanError(f"这份草稿已启动为行动（编号 {draft.launched_campaign_id}）")
    if draft.version != expect_version:
        return _editor(st, ctx, draft, "basics", status_code=409,
                       alert=f"草稿已被保存为第 {draft.version} 版，请核对后再启动")
    checked = await run_in_threadpool(check, draft.text)
    if checked.plan is None:
        return _editor(st, ctx, draft, "basics", checked=checked, status_code=422,
                       alert=f"方案有 {len(checked.errors)} 处错误，不能启动。")
    plan = checked.plan

    def run() -> int:
        with st.db.unit_of_work() as uow:
            campaign_id = launch_campaign(uow, st.clock, plan, draft.text, ctx.username)
            mark_launched(uow, draft_id, _office(ctx), campaign_id)
            uow.commit()
            return campaign_id

    campaign_id = await run_in_threadpool(run)
    st.cache.clear()
    return _back(request, st, f"/campaigns?campaign={campaign_id}",
                 ok=f"行动已启动：{plan.name}（编号 {campaign_id}，方案草稿第 {draft.version} 版）")


@router.post("/plans/drafts/{draft_id}/amend", include_in_schema=False)
async def amend_preview(request: Request, ctx: CtxDep, draft_id: int) -> Response:
    """Preview the draft as the next version of its running campaign (the amendment page)."""
    from duban.web import amend

    st = state(request)
    require_role(ctx, Role.COUNTY)
    draft = await run_in_threadpool(_draft, st, ctx, draft_id)
    campaign_id = draft.campaign_id or draft.launched_campaign_id
    if campaign_id is None:
        raise DubanError("这份草稿还没有对应的行动，请先启动")
    pending = amend.Draft(text=draft.text, filename=f"方案草稿“{draft.title}”第{draft.version}版")
    parsed = await run_in_threadpool(amend._parse, pending)
    return await run_in_threadpool(amend._preview, st, ctx, campaign_id, pending, parsed)
