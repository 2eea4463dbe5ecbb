"""What `plan check` and `campaign launch` warn about in a valid plan (提示), before launching."""

from __future__ import annotations

from duban.domain.plan import Plan
from duban.domain.plan_check import lint_plan
from duban.domain.workdays import WorkCalendar
from duban.services.calendars import working_calendar


def calendar_gaps(plan: Plan, calendar: WorkCalendar) -> list[str]:
    """One warning per stage that lies (partly) in a year the working-day calendar lacks."""
    out = []
    for i, stage in enumerate(plan.stages):
        last = stage.end or stage.start  # an open-ended stage: at least its first year
        years = [y for y in range(stage.start.year, last.year + 1)
                 if not calendar.first_year <= y <= calendar.last_year]
        if years:
            listed = "、".join(f"{y}年" for y in years)
            out.append(
                f"stages[{i}] 阶段「{stage.name}」（{stage.start.isoformat()}至"
                f"{stage.end.isoformat() if stage.end else '适时结束'}）"
                f"在{listed}，工作日历未覆盖（现有{calendar.first_year}年"
                f"至{calendar.last_year}年的节假日数据），工作日时限和催办将无法计算；请按 "
                "calendars/README.md 提供该年的节假日文件（calendars/ 或 DUBAN_CALENDAR_DIR）")
    return out


def plan_warnings(plan: Plan, calendar: WorkCalendar | None = None) -> list[str]:
    """lint_plan's remarks and the calendar's gaps, as Chinese lines naming the field."""
    remarks = [str(r) for r in lint_plan(plan)]
    return remarks + calendar_gaps(plan, calendar or working_calendar())
