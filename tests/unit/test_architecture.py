"""The import direction: the core imports only the standard library; layers point one way."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "duban" / "domain"


def foreign_imports(source: str) -> list[str]:
    """Modules a core file imports that are neither the standard library nor the core."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if name.startswith("duban.domain") or top in sys.stdlib_module_names:
                continue
            bad.append(name)
    return bad


def test_core_imports_only_the_standard_library() -> None:
    offenders = {
        str(path.relative_to(ROOT)): bad
        for path in sorted(CORE.rglob("*.py"))
        if (bad := foreign_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_check_catches_a_violation() -> None:
    assert foreign_imports("import sqlalchemy\nfrom models import Problem\nimport datetime\n") == [
        "sqlalchemy", "models"]
    assert foreign_imports("from duban.services import problems") == ["duban.services"]


def test_import_linter_layers_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a dev dependency and must be installed"
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_service_module_is_over_600_lines() -> None:
    """A use case module that grows past ~600 lines is split along its seams (issue 10)."""
    long = {str(path.relative_to(ROOT)): n
            for path in sorted((ROOT / "duban" / "services").rglob("*.py"))
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 600}
    assert long == {}, f"split these along their seams: {long}"
