"""Jinja2 rendering of the Chinese pages, flash messages and redirects."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from fastapi import Request
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from duban.adapters.resources import resource_dir
from duban.domain.bands import Band
from duban.domain.clock import CHINA_TZ
from duban.domain.lifecycle import ACTION_LABELS, ROLE_LABELS, STATUS_LABELS, Action, Role, Status
from duban.services.views.today import workdays_text
from duban.web.security import FLASH_COOKIE, Ctx, Keys, set_cookie

TEMPLATES = resource_dir("templates") / "web"
STATIC = TEMPLATES / "static"


def _fmt_dt(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(CHINA_TZ).strftime(fmt)


def _fmt_date(value: dt.date | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    return value.isoformat()


def _cn_date(value: dt.date | None) -> str:
    if value is None:
        return ""
    return f"{value.year}年{value.month}月{value.day}日"


def waited(since: dt.datetime | None, now: dt.datetime) -> str:
    """How long since a moment, in Chinese: 3天4小时, 5小时, 12分钟."""
    if since is None:
        return ""
    seconds = max(0, int((now - since).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时"
    return f"{max(rest // 60, 1)}分钟"


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _label_status(value: str) -> str:
    try:
        return STATUS_LABELS[Status(value)]
    except ValueError:
        return value


def _label_action(value: str) -> str:
    try:
        return ACTION_LABELS[Action(value)]
    except ValueError:
        return {"record": "登记", "unrouted": "未匹配路由", "amend_plan": "方案修订",
                "amend_co_offices": "方案修订", "start_deadline": "时限起算",
                "upload_evidence": "上传佐证资料"}.get(value, value)


def _label_role(value: str) -> str:
    try:
        return ROLE_LABELS[Role(value)]
    except ValueError:
        return value


def _label_band(value: str) -> str:
    try:
        return Band(value).label
    except ValueError:
        return ""


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} B"


class Options:
    """A drop-down's options rendered once (a scope's filter lists are the same on every
    page): `html(selected)` gives what `<option value="{{ c.code }}"{% if selected ==
    c.code %} selected{% endif %}>{{ c.label }}</option>` gives for each choice, escaped the
    same way, without escaping ~150 values again on every ledger page."""

    def __init__(self, choices: Iterable[Any]) -> None:
        self.codes = frozenset(str(c.code) for c in choices)
        self._plain = "".join(f'<option value="{escape(c.code)}">{escape(c.label)}</option>'
                              for c in choices)

    def __len__(self) -> int:
        return len(self.codes)

    def html(self, selected: object) -> Markup:
        if not isinstance(selected, str) or selected not in self.codes:
            return Markup(self._plain)
        value = f'<option value="{escape(selected)}">'
        return Markup(self._plain.replace(value, value[:-1] + " selected>"))


def _e(value: object) -> str:
    """What Jinja's autoescape writes for a value: markupsafe's escaping of its text (a value
    with __html__ as it says), without a Markup object per value."""
    html = getattr(value, "__html__", None)
    if html is not None:
        return str(html())
    return (str(value).replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
            .replace("'", "&#39;").replace('"', "&#34;"))


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def nobreak_dates(text: object) -> Markup:
    """Text escaped, its ISO dates kept whole on a line (a phone wrapped 2022- / 10-20)."""
    return Markup(_ISO_DATE.sub(lambda m: f'<span class="nw">{m.group(0)}</span>', _e(text)))


def ledger_rows_html(env: jinja2.Environment, rows: Iterable[Any], *, names: Any, bulk: bool,
                     kept: Mapping[str, Any], milestones: Mapping[int, str],
                     today: dt.date) -> Markup:
    """The ledger table's rows, as ledger.html's row loop drew them (its last newline left
    to the template): a page's ~50 rows of ~15 values each were a good share of a busy
    server's Python in Jinja's attribute look-ups, calls and Markup objects."""
    truncate = env.filters["truncate"]
    kept_ids = kept.get("ids", ())
    out = []
    for r in rows:
        rid = _e(r.id)
        band = r.band
        cells = [f'  <tr class="row-{_e(band or "none")}">\n']
        if bulk:
            checked = " checked" if r.id in kept_ids else ""
            cells.append(f'<td class="pick"><input type="checkbox" name="id" value="{rid}" '
                         f'aria-label="选择 {_e(r.code)}"{checked}></td>')
        cells.append(f'    <td data-label="编号"><a href="/problems/{rid}">{_e(r.code)}</a></td>\n'
                     f'    <td data-label="状态"><span class="status status-{_e(r.status)}">'
                     f'{_e(r.status_label)}</span>')
        if band and band not in ("on_time",):
            cells.append(f' <span class="chip band-{_e(band)}">{_e(_label_band(band))}</span>')
        cells.append(f'</td>\n    <td data-label="类别">{_e(names.category(r.category))}</td>\n'
                     f'    <td data-label="地点">{_e(names.town(r.town_code))}')
        if r.village_code:
            cells.append(f" · {_e(names.village(r.village_code))}")
        deadline = _fmt_date(r.deadline) or (
            "待签收" if r.status == "routed" and r.lead_office else "—")
        cells.append(f'</td>\n    <td data-label="描述" class="desc"><a href="/problems/{rid}">'
                     f"{_e(truncate(env, r.description, 40, True, '…'))}</a></td>\n"
                     f'    <td data-label="牵头办室">{_e(names.office(r.lead_office) or "—")}'
                     f'</td>\n    <td data-label="时限">{_e(deadline)}')
        if r.workdays_left is not None:
            cells.append(f' <span class="left band-{_e(band)}">'
                         f"{_e(workdays_text(r.deadline, r.workdays_left, today))}</span>")
        if milestones and milestones.get(r.id):
            cells.append(f'<div class="muted small">节点：{nobreak_dates(milestones[r.id])}</div>')
        cells.append("</td>\n  </tr>")
        out.append("".join(cells))
    if not out:
        out.append('  <tr><td colspan="8" class="muted">没有符合条件的问题。</td></tr>')
    return Markup("\n".join(out))


def make_env() -> jinja2.Environment:
    """The page template environment (autoescaped; unknown variables are errors)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code; no stat() of every file per page
    )
    env.filters.update(
        dt=_fmt_dt, date=_fmt_date, cn_date=_cn_date, pct=_pct, status=_label_status,
        action=_label_action, role=_label_role, band=_label_band, size=_size,
        nobreak_dates=nobreak_dates,
    )
    env.globals.update(waited=waited, urlencode=urlencode, workdays_text=workdays_text)
    return env


def read_flash(request: Request, keys: Keys) -> dict[str, str] | None:
    """The flash message left by the previous redirect, if any."""
    raw = keys.unsign(request.cookies.get(FLASH_COOKIE))
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()).decode("utf-8"))
    except ValueError:
        return None
    if isinstance(data, dict) and {"kind", "text"} <= data.keys():
        return {"kind": str(data["kind"]), "text": str(data["text"])}
    return None


def render(env: jinja2.Environment, keys: Keys, request: Request, template: str, *,
           ctx: Ctx | None = None, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page; consumes the flash message."""
    flash = read_flash(request, keys)
    context.setdefault("active", "")
    context.setdefault("campaign", None)
    context.setdefault("campaigns", [])
    html = env.get_template(template).render(request=request, ctx=ctx, flash=flash, **context)
    response = HTMLResponse(html, status_code=status_code)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


def came_from(request: Request) -> str | None:
    """The page of this site the person came from (its path and query), for a way back from
    an error page; None for another site's page, a malformed Referer or this same page."""
    referer = request.headers.get("referer", "")
    parts = urlsplit(referer)
    if parts.scheme not in ("http", "https") or parts.netloc != request.headers.get("host"):
        return None
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    back = parts.path + (f"?{parts.query}" if parts.query else "")
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return None if request.method == "GET" and back == here else back


def redirect(request: Request, keys: Keys, url: str, *, ok: str | None = None,
             error: str | None = None, secure: bool | None = None) -> Response:
    """A 303 redirect, optionally leaving a flash message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if ok or error:
        payload = json.dumps({"kind": "error" if error else "ok", "text": (error or ok or "")[:1500]},
                             ensure_ascii=False)
        # Base64 keeps the Chinese text cookie-safe; the signature keeps it ours.
        encoded = base64.urlsafe_b64encode(payload.encode("utf-8")).decode()
        set_cookie(response, request, FLASH_COOKIE, keys.sign(encoded), max_age=120,
                   secure=secure, same_site="lax")
    return response


def safe_next(url: str | None, default: str = "/") -> str:
    """A local path to go back to; anything pointing off-site becomes the default."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    return url
