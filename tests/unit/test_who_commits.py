"""The edge owns the transaction: no service opens, commits or runs a unit of work itself."""

from __future__ import annotations

import re
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "duban" / "services"

# Where units of work are made and committed: the infrastructure, not a use case.
INFRASTRUCTURE = {"database.py", "root.py"}

# Services that still open their own transactions (not converted yet). The list only shrinks:
# a module converted must leave it, which the second test enforces.
NOT_YET: set[str] = set()

OWN_TRANSACTION = re.compile(r"\.commit\(|\.transaction\(\)|\.unit_of_work\(\)|\bdb\.run\(")


def _offences(path: Path) -> list[str]:
    return [f"{path.relative_to(SERVICES)}:{n}: {line.strip()}"
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if OWN_TRANSACTION.search(line)]


def test_services_never_commit() -> None:
    offences = [o for path in sorted(SERVICES.rglob("*.py"))
                if path.name not in INFRASTRUCTURE | NOT_YET
                for o in _offences(path)]
    assert offences == [], "services take the unit of work; the edge commits:\n" + \
        "\n".join(offences)


def test_the_list_of_unconverted_services_is_current() -> None:
    converted = sorted(name for name in NOT_YET if not _offences(SERVICES / name))
    assert converted == [], f"converted, take them off NOT_YET: {converted}"
