"""A wheel built from the project carries its templates, plans, calendars, fontconfig and
migrations (read through importlib.resources), and installed into a fresh venv, run from a
folder outside the checkout, it runs `duban demo` to the campaign's close: seed 000's, with
every check tests/e2e/test_demo.py makes of a demo (its one run of that seed's campaign)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import require
from tests.e2e.test_demo import check_demo

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")  # installed into .venv by the Makefile
# uv fetches the build backend and the dependencies: through the platform's trust store, as
# the Makefile does (CI's network inspects TLS; uv's own roots refuse it: "UnknownIssuer").
UV_ENV = {**os.environ, "UV_SYSTEM_CERTS": "1"}
# What the checkout holds that a source tree for the build does not need.
NOT_SOURCE = shutil.ignore_patterns(".venv", ".git", "data", "out", "build", "dist",
                                    "*.egg-info", "__pycache__", ".*_cache", ".prefect")


def _run(args: list[object], cwd: Path, timeout: float,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout, check=False)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    return result


@pytest.mark.slow
@pytest.mark.timeout(2500)  # a whole campaign, as test_demo's
def test_the_wheel_runs_the_demo_from_a_fresh_venv(tmp_path: Path) -> None:
    require(UV.exists(), f"uv not found next to {sys.executable} (make venv installs it)")
    # Built from a copy of the source (no .git, no .venv): the checkout is left as it was.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=NOT_SOURCE)
    dist = tmp_path / "dist"
    _run([UV, "build", "--wheel", "--out-dir", dist, source], cwd=tmp_path, timeout=900,
         env=UV_ENV)
    (wheel,) = dist.glob("duban-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    for shipped in ("duban/_data/templates/documents/notice.docx",
                    "duban/_data/templates/web/base.html",
                    "duban/_data/templates/web/static/app.js",
                    "duban/_data/plans/seed-000-canggou-2020.yaml",
                    "duban/_data/plans/seed-002-shenqiu-scope.csv",
                    "duban/_data/calendars/README.md",
                    "duban/_data/fontconfig/duban-fonts.conf",
                    "migrations/env.py", "migrations/alembic.ini",
                    "migrations/versions/0001_initial_schema.py"):
        assert shipped in names, shipped
    assert not any(n.startswith("tests/") for n in names)

    venv = tmp_path / "venv"
    _run([UV, "venv", "--quiet", "--python", sys.executable, venv], cwd=tmp_path, timeout=300,
         env=UV_ENV)
    python = venv / "bin" / "python"
    _run([UV, "pip", "install", "--quiet", "--python", python, wheel], cwd=tmp_path,
         timeout=900, env=UV_ENV)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DUBAN_", "PYTHON", "VIRTUAL_ENV"))}
    env |= {"DUBAN_DATA_DIR": str(elsewhere / "data"), "PREFECT_HOME": str(tmp_path / "prefect"),
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300"}
    # The installed copy is what runs, and its resources are its own, not the checkout's.
    where = _run([python, "-c", "import duban\nfrom duban.adapters.resources import "
                  "migrations_dir, resource_dir\nprint(duban.__file__)\n"
                  "for n in ('templates', 'plans', 'calendars', 'fontconfig'):\n"
                  "    print(resource_dir(n).resolve())\nprint(migrations_dir().resolve())"],
                 cwd=elsewhere, timeout=120, env=env).stdout.split()
    assert len(where) == 6
    for path in where:
        assert Path(path).resolve().is_relative_to(venv.resolve()), path
        assert not Path(path).resolve().is_relative_to(ROOT), path

    demo = _run([venv / "bin" / "duban", "demo", "--size", "small", "--plan", "seed-000",
                 "--out", "out"], cwd=elsewhere, timeout=2400, env=env)
    assert "演示完成" in demo.stdout and "状态：已总结" in demo.stdout, demo.stdout[-3000:]
    # No error of duban's own, no missing glyph, no traceback (the embedded Prefect server's
    # output goes to data/prefect-server.log), as test_demo's run_demo asks of the checkout.
    assert "内部错误" not in demo.stderr and "Glyph" not in demo.stderr
    assert "Traceback" not in demo.stderr, demo.stderr[-3000:]
    assert not re.search(r"site-packages/(duban|flows|tasks|models)/", demo.stderr), \
        demo.stderr[-3000:]
    assert list((elsewhere / "out" / "notices").glob("*.docx"))
    # Everything test_demo checks of a demo, on this one (seed 000 runs only here).
    check_demo(demo.stdout, elsewhere, env, "seed-000", "沧沟", venv / "bin" / "duban")
    assert (elsewhere / "data").is_dir() and not (ROOT / "elsewhere").exists()
