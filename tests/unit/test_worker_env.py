"""A Prefect worker's flow run without DUBAN_DATABASE_URL refuses instead of making a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from duban.domain.errors import DubanError
from duban.services import root as root_module


def test_a_flow_run_without_the_database_url_refuses(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(root_module, "_process", None)
    monkeypatch.setattr(root_module, "_built", {})
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DUBAN_DATABASE_URL", raising=False)
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "0c5c2d6e-0000-4000-8000-000000000000")
    with pytest.raises(DubanError, match="缺少环境变量 DUBAN_DATABASE_URL"):
        root_module.process_root()
    assert not (tmp_path / "data").exists()  # no empty SQLite file was created
