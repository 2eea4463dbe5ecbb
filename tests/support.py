"""Small helpers shared by test modules (import as `from tests.support import ...`)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from duban.services.evidence import UploadedFile


def need_module(module: str) -> None:
    """Skip without an optional test module (xlwt writes .xls); in CI its absence is a failure."""
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {module} is not installed (a dev dependency)")
        pytest.skip(f"{module} is not installed")


# Seed 002's supervision groups work 不定期, with no daily quota (its plan writes zeros). Tests
# of the spot-check machinery give seed 002's eight groups seed 004's per-group minimums.
SEED_002_NO_QUOTA = "quota: {closed_problems: 0, households: 0, villages: 0}"
SEED_004_QUOTA = "quota: {closed_problems: 5, households: 10, villages: 2}"


def with_seed_004_quota(seed_002_text: str) -> str:
    """Seed 002's plan text with seed 004's spot-check quota in place of its zeros."""
    if SEED_002_NO_QUOTA not in seed_002_text:
        raise AssertionError("seed 002's plan no longer writes its zero quota")
    return seed_002_text.replace(SEED_002_NO_QUOTA, SEED_004_QUOTA)


# A small JPEG-looking file the evidence checker accepts, for moves that need evidence.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"photo-after" * 20
JPEG_SHA = hashlib.sha256(JPEG).hexdigest()


def photo(name: str = "整改后照片.jpg") -> UploadedFile:
    """An after-rectification photo to upload with a submission."""
    return UploadedFile(name, JPEG, "after")


@pytest.fixture
def evidence_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory of the test's own, so stored evidence lands in tmp."""
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"
