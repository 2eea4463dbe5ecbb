"""The deployment's pace for background stages (DUBAN_STAGE_DUTY), on the real clock.

A tick's stage is work nobody waits for; on a machine that also serves the clerks' pages it
works DEFAULT_STAGE_DUTY of the time (SHARED_STAGE_DUTY in `duban worker`'s flow runs, where
counties share the deployment) and pauses the rest (duban/domain/pacing.py). The pause costs
the stage wall time (1 / duty of its unpaced time) and no CPU.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from duban.domain.pacing import Pace

# Half the time: a county's 排查 (~4 s of work at 300,000 households on a quiet machine) takes
# ~8 s, and on two cores the clerks' pages find the stage idle half the time
# (docs/benchmarks.md, "A city on one deployment").
DEFAULT_STAGE_DUTY = 0.5
# A tenth of the time where counties share one deployment (`duban worker`'s flow runs, the
# scaled mode): at half, one county's 排查 still cost another county's pages 1.23-1.26× at
# p95 on two cores; at a tenth, 0.99-1.23× (the measurement's own spread 1.11-1.25×), for
# ~37 s a county instead of ~8 s (docs/benchmarks.md, "The clerks off the shared cores").
SHARED_STAGE_DUTY = 0.1


def stage_duty(environ: Mapping[str, str] | None = None) -> float:
    """The deployment's DUBAN_STAGE_DUTY (of `environ`, else this process's environment): the
    share of time a tick's stage works, in (0, 1] (1: never pauses); DEFAULT_STAGE_DUTY when
    unset."""
    raw = (os.environ if environ is None else environ).get("DUBAN_STAGE_DUTY", "").strip()
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
