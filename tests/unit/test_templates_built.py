"""The shipped .docx templates are what tools/build_doc_templates.py builds.

A template edited by hand drifts from its builder: the next rebuild (a format fix for every
template) would silently undo the edit. Each template's parts must equal the builder's.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tools.build_doc_templates import BUILDERS, DEFAULT_OUT, build_all


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("templates")
    build_all(out)
    return out


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_shipped_template_is_the_builders(built: Path, name: str) -> None:
    shipped = zipfile.ZipFile(DEFAULT_OUT / name)
    rebuilt = zipfile.ZipFile(built / name)
    assert sorted(shipped.namelist()) == sorted(rebuilt.namelist())
    differ = [part for part in shipped.namelist() if shipped.read(part) != rebuilt.read(part)]
    assert not differ, (f"templates/documents/{name} differs from its builder in {differ}: "
                        "edit tools/build_doc_templates.py and rebuild")
