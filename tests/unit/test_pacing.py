"""A background stage's pace: the pauses between batches keep its share of the time."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from duban.adapters.pacing import DEFAULT_STAGE_DUTY, stage_duty
from duban.domain.pacing import Pace


class FakeTime:
    """A monotonic clock that moves `step` seconds of work per reading and by every sleep."""

    def __init__(self, step: float) -> None:
        self.t, self.step = 100.0, step
        self.sleeps: list[float] = []

    def stopwatch(self) -> float:
        self.t += self.step
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.mark.parametrize("duty", [0.5, 0.25, 0.8])
def test_the_pauses_leave_the_stage_its_duty_of_the_time(duty: float) -> None:
    fake = FakeTime(step=0.1)
    pace = Pace(duty, fake.stopwatch, fake.sleep)
    started = fake.stopwatch()
    pace.start()
    for _ in range(20):
        pace()
    assert pace.pauses == 20 and len(fake.sleeps) == 20
    assert all(math.isclose(s, 0.1 * (1 - duty) / duty) for s in fake.sleeps)
    assert math.isclose(pace.paused_s, sum(fake.sleeps))
    # Over the whole stage, work is `duty` of the elapsed time (the readings' own steps aside).
    assert math.isclose(pace.worked_s / (pace.worked_s + pace.paused_s), duty)
    assert fake.t - started > pace.worked_s + pace.paused_s - 1e-9


def test_a_duty_of_one_never_pauses() -> None:
    fake = FakeTime(step=0.5)
    pace = Pace(1.0, fake.stopwatch, fake.sleep)
    pace.start()
    for _ in range(10):
        pace()
    assert fake.sleeps == [] and pace.pauses == 0
    assert math.isclose(pace.worked_s, 5.0)


def test_short_pauses_are_carried_over_to_the_next_batch() -> None:
    # 1 ms batches at 0.8: 0.25 ms owed each, slept once 5 ms are owed (every 20 batches).
    fake = FakeTime(step=0.001)
    pace = Pace(0.8, fake.stopwatch, fake.sleep, min_pause_s=0.005)
    pace.start()
    for _ in range(40):
        pace()
    assert len(fake.sleeps) == 2
    assert all(math.isclose(s, 0.005) for s in fake.sleeps)


def test_without_start_the_first_batch_is_counted_from_the_first_call() -> None:
    fake = FakeTime(step=0.2)
    pace = Pace(0.5, fake.stopwatch, fake.sleep)
    pace()
    assert fake.sleeps == []
    pace()
    assert [round(s, 9) for s in fake.sleeps] == [0.2]


@pytest.mark.parametrize("duty", [0.0, -0.5, 1.5, float("nan")])
def test_a_duty_outside_zero_to_one_is_refused(duty: float) -> None:
    with pytest.raises(ValueError):
        Pace(duty, lambda: 0.0, lambda _s: None)


@pytest.mark.parametrize(("raw", "expected"), [("", DEFAULT_STAGE_DUTY), (" 0.25 ", 0.25),
                                               ("1", 1.0), ("0.5", 0.5)])
def test_the_deployment_sets_the_stage_duty(monkeypatch: pytest.MonkeyPatch, raw: str,
                                            expected: float) -> None:
    monkeypatch.setenv("DUBAN_STAGE_DUTY", raw)
    assert stage_duty() == expected


@pytest.mark.parametrize("raw", ["0", "-1", "1.5", "abc", "nan", "inf"])
def test_a_bad_stage_duty_is_refused_in_chinese(monkeypatch: pytest.MonkeyPatch,
                                               raw: str) -> None:
    monkeypatch.setenv("DUBAN_STAGE_DUTY", raw)
    with pytest.raises(ValueError, match=r"DUBAN_STAGE_DUTY 的值.*无效"):
        stage_duty()


def test_an_owned_child_and_its_own_children_run_niced() -> None:
    from duban.adapters.children import OwnedChild

    # The child starts a grandchild (as Prefect's worker starts a flow run) and prints both
    # processes' niceness.
    code = ("import os, subprocess, sys; print(os.nice(0), flush=True); "
            "subprocess.run([sys.executable, '-c', 'import os; print(os.nice(0))'])")
    own = os.nice(0)
    child = OwnedChild([sys.executable, "-c", code], nice=7, stdout=subprocess.PIPE, text=True)
    try:
        assert child.process.stdout is not None
        out = child.process.stdout.read().split()
        assert child.wait(timeout=60) == 0
    finally:
        child.stop()
    assert out == [str(min(own + 7, 19))] * 2
    plain = OwnedChild([sys.executable, "-c", "import os; print(os.nice(0))"],
                       stdout=subprocess.PIPE, text=True)
    try:
        assert plain.process.stdout is not None
        assert plain.process.stdout.read().strip() == str(own)
        plain.wait(timeout=60)
    finally:
        plain.stop()


def test_a_niced_session_gives_its_scheduling_group_its_niceness() -> None:
    # With Linux's autogroup the cores are shared between sessions first: a flow run leading
    # a session of its own (as Prefect's worker starts it) at nice 7 weighed as a session at
    # 0 until its group had the nice too. Where the kernel has no autogroup, there is no
    # group to nice, and the
    # processes' own nices are what must hold. Each new session gets a group of its own
    # wherever the kernel has autogroup (the file exists), even when this process sits in
    # the kernel's root group (the file reads empty, as on the CI machine).
    from duban.adapters.children import OwnedChild, nice_own_session, session_group_nice

    own = session_group_nice()
    read = ("from duban.adapters.children import session_group_nice; "
            "print(os.nice(0), session_group_nice(), flush=True)")
    # A grandchild in a session of its own, niced further, as a flow run calls it.
    grandchild = ("import os; os.nice(2); from duban.adapters.children import "
                  f"nice_own_session; nice_own_session(); {read}")
    code = (f"import os, subprocess, sys; {read}; subprocess.run([sys.executable, '-c', "
            f"{grandchild!r}], start_new_session=True)")
    child = OwnedChild([sys.executable, "-c", code], nice=7, stdout=subprocess.PIPE, text=True)
    try:
        assert child.process.stdout is not None
        lines = child.process.stdout.read().split("\n")
        assert child.wait(timeout=60) == 0
    finally:
        child.stop()
    niced = min(os.nice(0) + 7, 19)
    further = min(niced + 2, 19)
    governed = Path("/proc/self/autogroup").exists()
    assert [line for line in lines if line.strip()] == [
        f"{niced} {niced if governed else None}", f"{further} {further if governed else None}"]
    # A niced child in this session leaves the session's group as it is (a terminal's).
    same = OwnedChild([sys.executable, "-c", f"import os; {read}"], nice=7, session=False,
                      stdout=subprocess.PIPE, text=True)
    try:
        assert same.process.stdout is not None
        assert same.process.stdout.read().split() == [str(niced), str(own)]
        same.wait(timeout=60)
    finally:
        same.stop()
    nice_own_session()  # this process does not lead its session, or runs at its own nice
    assert session_group_nice() == own


def test_a_session_no_autogroup_schedules_is_left_alone(tmp_path: Path) -> None:
    # An empty /proc/self/autogroup means no session group schedules the process: there is
    # nothing to nice. A group at nice 0 is raised to the process's nice.
    ungrouped, group = tmp_path / "ungrouped", tmp_path / "group"
    ungrouped.write_text("")
    group.write_text("/autogroup-9 nice 0\n")
    for path in (ungrouped, group):
        code = ("import os; os.nice(7); from duban.adapters import children; "
                f"children.AUTOGROUP = {str(path)!r}; children.nice_own_session()")
        subprocess.run([sys.executable, "-c", code], start_new_session=True, check=True,
                       timeout=60)
    assert ungrouped.read_text() == ""
    assert group.read_text() == f"/autogroup-9 nice 0\n{min(os.nice(0) + 7, 19)}"
