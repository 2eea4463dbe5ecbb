"""The deployment's pace for background stages (DUBAN_STAGE_DUTY), on the real clock.

A tick's stage is work nobody waits for; on a machine that also serves the clerks' pages it
works DEFAULT_STAGE_DUTY of the time and pauses the rest (duban/domain/pacing.py). The pause
costs the stage wall time (1 / duty of its unpaced time: twice at the default) and no CPU.
"""

from __future__ import annotations

import os
import time

from duban.domain.pacing import Pace

# Half the time: a county's 排查 (~4 s of work at 300,000 households on a quiet machine) takes
# ~8 s, and on two cores the clerks' pages find the stage idle half the time
# (docs/benchmarks.md, "A city on one deployment").
DEFAULT_STAGE_DUTY = 0.5


def stage_duty() -> float:
    """The deployment's DUBAN_STAGE_DUTY: the share of time a tick's stage works, in (0, 1]
    (1: never pauses); DEFAULT_STAGE_DUTY when unset."""
    raw = os.environ.get("DUBAN_STAGE_DUTY", "").strip()
    if not raw:
        return DEFAULT_STAGE_DUTY
    try:
        duty = float(raw)
    except ValueError:
        duty = 0.0
    if not 0 < duty <= 1:  # also refuses nan
        raise ValueError(f"环境变量 DUBAN_STAGE_DUTY 的值“{raw}”无效，应为大于0且不大于1的小数"
                         "（后台阶段工作时间所占比例，1 表示不暂停）")
    return duty


def stage_pace() -> Pace | None:
    """A Pace at the deployment's duty, timed by the monotonic clock, pausing by sleeping;
    None at a duty of 1, which never pauses (the stage's writes then stream unsliced)."""
    duty = stage_duty()
    return Pace(duty, time.monotonic, time.sleep) if duty < 1 else None
