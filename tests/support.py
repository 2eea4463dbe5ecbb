"""Small helpers shared by test modules (import as `from tests.support import ...`)."""

from __future__ import annotations

import os

import pytest


def need_module(module: str) -> None:
    """Skip without an optional test module (xlwt writes .xls); in CI its absence is a failure."""
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {module} is not installed (a dev dependency)")
        pytest.skip(f"{module} is not installed")
