"""The web bench's pages hashed, to prove a speed change draws the same pages.

    python -m bench.web_pages hash OUT.json    # every listed page of every listed user
    python -m bench.web_pages compare A.json B.json

Over the bench database ($DUBAN_BENCH_PG, `bench.web_load setup`) with the aggregate cache on
for an hour (`--cache 0`: off, every count fresh, slow: a million problems counted per page),
so the kept counts are what the pages are drawn from; the "cached N seconds ago" line and
the CSRF token are left out. Dashboards and ledger pages with
every kind of filter, sort and a deep page, for the county office, the supervisor, towns and
offices (among them offices others co-route to). Run it on two trees against the same database and compare.
`hash --recount`: every page drawn once and asked again, then the kept cube recounted (its
background refresh, which draws the scopes' results again from the new cube before it
replaces the old) and the pages hashed after it: the pages drawn from the redrawn results.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

USERS = ["county", "sup", "town-huaidian", "town-liuzhuangdian", "town-xinanji",
         "town-baiji", "office-xczxj", "office-cl", "office-ybj", "office-mzj", "office-jyj",
         "office-zjj"]
LEDGER = [
    "", "page=3", "page=15", "sort=code", "sort=code&desc=1", "sort=found_on&page=9",
    "sort=updated&desc=1&page=4", "sort=deadline&desc=1&page=9", "desc=1",
    "band=overdue&desc=1&page=3", "office=xczxj&desc=1&page=2", "status=", "status=closed",
    "status=routed&sort=updated", "status=submitted&page=2", "band=red", "band=overdue&page=2",
    "band=yellow&sort=found_on&desc=1", "town=huaidian", "town=xinanji&sort=code&page=5",
    "office=xczxj", "office=cl&sort=found_on&page=6", "office=mzj&desc=1",
    "due=overdue", "due=week&sort=code", "lead=mine", "category=water",
    "source=household&page=2",
]
CSRF = re.compile(rb'(name="csrf_token" value=")[0-9a-f]+(")')
# Shown only when the figures came from a kept count: a process's first count is fresh on
# one tree and a shared copy on another.
AGE = re.compile('<p class="muted small">统计数据缓存于 [0-9]+ 秒前</p>'.encode())


def hashes(cache: float, dump: Path | None = None, recount: bool = False) -> dict[str, str]:
    """sha256 of each (user, page); with `recount`, after the kept cube's refresh."""
    os.environ["DUBAN_BENCH_CACHE"] = str(cache)
    os.environ.setdefault("DUBAN_DATA_DIR", "/tmp/duban-web-pages")
    os.environ["DUBAN_COOKIE_SECURE"] = "0"
    from fastapi.testclient import TestClient

    from bench.web_load import PASSWORD, make_app

    app = make_app()
    paths = ["/?campaign=1", *(f"/ledger?campaign=1&{q}" for q in LEDGER)]
    clients = {}
    out: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for user in USERS:
            client = clients[user] = stack.enter_context(
                TestClient(app, base_url="http://127.0.0.1"))
            login = client.get("/login")
            token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', login.text)
            assert token, "no CSRF token on the sign-in page"
            r = client.post("/login", data={"username": user, "password": PASSWORD,
                                            "csrf_token": token.group(1)},
                            follow_redirects=False)
            assert r.status_code == 303, (user, r.status_code)
        if recount:
            _recounted(app, clients, paths)
        for user, client in clients.items():
            for path in paths:
                page = client.get(path)
                assert page.status_code == 200, (user, path, page.status_code)
                body = AGE.sub(b"", CSRF.sub(rb"\1-\2", page.content))
                out[f"{user} {path}"] = hashlib.sha256(body).hexdigest()
                if dump is not None:
                    (dump / hashlib.sha256(f"{user} {path}".encode()).hexdigest()[:16]
                     ).write_bytes(body)
    return out


def _recounted(app: Any, clients: dict[str, Any], paths: list[str]) -> None:
    """Every page twice (drawn, then asked again), then the kept cube aged past its ttl and
    one page asked, and the cube's refresh awaited: what follows is drawn from its redraws."""
    cache = app.state.duban.cache
    for _ in range(2):
        for client in clients.values():
            for path in paths:
                assert client.get(path).status_code == 200
    old = {k: e.value for k, e in cache._data.items() if isinstance(k, tuple) and k[0] == "cube"}
    for key in old:
        cache._data[key].stored -= cache.ttl + 1  # stale, still served: refreshed behind
    assert clients[USERS[0]].get(paths[0]).status_code == 200
    deadline = time.monotonic() + 600
    while any((e := cache._data.get(k)) is None or e.value is v for k, v in old.items()):
        assert time.monotonic() < deadline, "the cube's refresh never landed"
        time.sleep(0.1)
    redrawn = sum(1 for k in cache._data if isinstance(k, tuple) and k[-1] in
                  [cache._data[c].value for c in old])
    print(f"cube recounted: {redrawn} results drawn from it before it was published")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hash")
    h.add_argument("out", type=Path)
    h.add_argument("--cache", type=float, default=3600.0, help="aggregate cache seconds")
    h.add_argument("--dump", type=Path, help="also write each page to this folder")
    h.add_argument("--recount", action="store_true",
                   help="hash the pages drawn after the kept cube's background refresh")
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.cmd == "hash":
        got = hashes(args.cache, args.dump, args.recount)
        args.out.write_text(json.dumps(got, indent=1), encoding="utf-8")
        print(f"{len(got)} pages hashed")
        return
    a = json.loads(args.a.read_text(encoding="utf-8"))
    b = json.loads(args.b.read_text(encoding="utf-8"))
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    for k in differ:
        print("differs:", k)
    print(f"{len(a)} and {len(b)} pages, {len(differ)} differ")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
