"""The county office's holiday page (节假日): paste the State Council's notice, check, save.

The same reading as `duban calendar import` (services/calendars): the year's grid with the days
off and the worked weekend days, every stated weekday checked, an unreadable sentence quoted.
Saving writes the year file (the first folder of DUBAN_CALENDAR_DIR, else calendars/) and
reloads this process's working calendar. The notice's text travels in the preview's form, so
saving reads exactly what was shown.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from duban.domain.clock import local_today
from duban.domain.errors import DubanError
from duban.domain.holiday_notice import Notice, festival_lines, month_grid
from duban.domain.lifecycle import Role
from duban.services.views.kept import forget_kept
from duban.web.deps import WebState, csrf_session, current, state
from duban.web.pages import CtxDep, campaign_of, page
from duban.web.security import Ctx
from duban.web.work import _back, require_role

router = APIRouter(dependencies=[Depends(current), Depends(csrf_session)])

MAX_NOTICE_CHARS = 50_000


def _show(st: WebState, ctx: Ctx, *, year: int | None = None, text: str = "",
          notice: Notice | None = None, error: str = "", target: Any = None,
          status_code: int = 200) -> Response:
    from duban.services.calendars import calendar_year, working_calendar

    campaigns, chosen = campaign_of(st, None)
    cal = working_calendar()
    shown: dict[str, Any] | None = None
    if notice is not None:
        shown = {"year": notice.year, "months": month_grid(notice.year, notice.holidays,
                                                            notice.workdays),
                 "holidays": len(notice.holidays), "workdays": len(notice.workdays),
                 "working_days": None}
    else:
        wanted = year or local_today(st.clock).year
        if cal.first_year <= wanted <= cal.last_year:
            cy = calendar_year(wanted, cal)
            shown = {"year": wanted, "months": month_grid(wanted, cy.holidays, cy.workdays),
                     "holidays": len(cy.holidays), "workdays": len(cy.workdays),
                     "working_days": cy.working_days}
        elif not error and year is not None:
            error = f"工作日历未覆盖{wanted}年，请粘贴该年的节假日安排通知导入"
    return page(st, ctx, "calendar.html", "calendar", campaign=chosen, campaigns=campaigns,
                shown=shown, notice=notice,
                lines=festival_lines(notice) if notice is not None else [],
                text=text, error=error, target=target, first_year=cal.first_year,
                last_year=cal.last_year, status_code=status_code)


def _read(text: str) -> tuple[Notice | None, Any, str]:
    from duban.services.calendars import read_notice, save_target

    try:
        notice = read_notice(text)
        return notice, save_target(notice), ""
    except DubanError as exc:
        return None, None, exc.message


@router.get("/calendar", include_in_schema=False)
def calendar_page(request: Request, ctx: CtxDep, year: int | None = None) -> Response:
    """A covered year's grid and the form to paste a notice."""
    st = state(request)
    require_role(ctx, Role.COUNTY)
    return _show(st, ctx, year=year)


@router.post("/calendar", include_in_schema=False)
async def calendar_preview(
    request: Request, ctx: CtxDep,
    notice_text: Annotated[str, Form(max_length=MAX_NOTICE_CHARS)] = "",
) -> Response:
    """Read the pasted notice and show its year; writes nothing."""
    st = state(request)
    require_role(ctx, Role.COUNTY)
    if not notice_text.strip():
        return _show(st, ctx, text=notice_text, error="请粘贴通知正文", status_code=422)
    notice, target, error = await run_in_threadpool(_read, notice_text)
    return _show(st, ctx, text=notice_text, notice=notice, target=target, error=error,
                 status_code=422 if error else 200)


@router.post("/calendar/save", include_in_schema=False)
async def calendar_save(
    request: Request, ctx: CtxDep,
    notice_text: Annotated[str, Form(max_length=MAX_NOTICE_CHARS)],
) -> Response:
    """Write the year file of the notice previewed, and use it from now on."""
    from duban.services.calendars import save_notice

    st = state(request)
    require_role(ctx, Role.COUNTY)
    notice, _, error = await run_in_threadpool(_read, notice_text)
    if notice is None:
        return _show(st, ctx, text=notice_text, error=error, status_code=422)
    try:
        path = await run_in_threadpool(save_notice, notice)
    except DubanError as exc:
        return _show(st, ctx, text=notice_text, notice=notice, error=exc.message,
                     status_code=422)
    st.root.reload_calendar()
    st.cache.clear()
    # Deadlines' bands follow the calendar: no process shows counts of the old one.
    await run_in_threadpool(st.db.run, lambda uow: forget_kept(uow.session))
    return _back(request, st, f"/calendar?year={notice.year}",
                 ok=f"已导入{notice.year}年节假日安排（{path.name}），工作日按此计算。")
