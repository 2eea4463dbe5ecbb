"""`duban serve`'s default web worker count: the usable CPUs up to 4 on PostgreSQL, 1 on SQLite."""

from __future__ import annotations

import pytest

from duban.cli import web_workers
from duban.cli.web_workers import MAX_DEFAULT_WORKERS, default_web_workers

PG = "postgresql+psycopg://duban@db.example/duban"


@pytest.mark.parametrize(("cpus", "expected"), [(1, 1), (2, 2), (3, 3), (8, MAX_DEFAULT_WORKERS)])
def test_postgresql_takes_the_usable_cpus_up_to_the_cap(
        monkeypatch: pytest.MonkeyPatch, cpus: int, expected: int) -> None:
    monkeypatch.setattr(web_workers.os, "sched_getaffinity", lambda _pid: set(range(cpus)))
    assert default_web_workers(PG) == expected
    assert default_web_workers("postgresql://duban@127.0.0.1/duban") == expected


def test_sqlite_keeps_the_web_in_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_workers.os, "sched_getaffinity", lambda _pid: set(range(8)))
    assert default_web_workers("sqlite:////var/lib/duban/duban.db") == 1



def test_zero_workers_is_refused_as_a_usage_mistake() -> None:
    from click.testing import CliRunner

    from duban.cli.base import cli

    result = CliRunner().invoke(cli, ["serve", "--web-workers", "0"])
    assert result.exit_code == 2
    assert "--web-workers 的值无效：应为正整数：0" in result.output
