"""The phone app's figures (issue 18), against a real `duban serve` on loopback.

- downloading a village of 500 households with their facts and open problems (target < 2 s):
  the best of five `GET /api/m/campaigns/{id}/villages/{village}`, as the phone asks for it;
- syncing 100 visits, each with a 200 KB photo and a signature, one request per visit as the
  phone sends them (target < 10 s in all), every one answered 已保存;
- what the phone keeps for that village without photos (target < 5 MB): the setup (form and
  villages), the village's download and the 100 visit records with their signatures, as the
  app stores them in IndexedDB (JSON text and PNG bytes).

The database is SQLite (a clerk's laptop) or PostgreSQL (a county server): seed 002 launched on
2022-09-20 (its 排查 stage), a village cadre, 500 households of 东关社区, 50 of them with an open
problem.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import Entry

ROOT = Path(__file__).resolve().parents[1]
NOW = "2022-09-20T10:00:00+08:00"
PASSWORD = "Bench-field-2022"
VILLAGE = "huaidian-01"


def _build(url: str, households: int) -> int:
    from duban.adapters.plan.yaml_file import load_plan_text
    from duban.domain.clock import FixedClock
    from duban.domain.household import HouseholdCategory, HouseholdFacts
    from duban.domain.lifecycle import Role
    from duban.services.accounts import hash_password
    from duban.services.actors import add_user
    from duban.services.campaigns import launch_campaign
    from duban.services.database import Database
    from duban.services.intake import detect_problems, write_households

    db = Database(url)
    db.migrate()
    clock = FixedClock(dt.datetime.fromisoformat(NOW))
    path = ROOT / "plans" / "seed-002-shenqiu.yaml"
    text = path.read_text(encoding="utf-8") + "\nvisits:\n  household_signature: false\n"
    plan = load_plan_text(text, base_dir=path.parent)
    cid = db.run(launch_campaign, clock, plan, text, "county")
    db.run(add_user, clock, username="cadre", name="孙书记", role=Role.VILLAGE,
           town="huaidian", village=VILLAGE, password_hash=hash_password(PASSWORD))
    rows = [HouseholdFacts(f"HD{n:05d}", "huaidian", VILLAGE, f"户主{n:03d}", 3,
                           HouseholdCategory.LIFTED, None, 9000, "A", n % 10 != 0, 0, 0, True,
                           True) for n in range(1, households + 1)]
    db.run(lambda uow: write_households(uow.session, cid, rows))
    db.run(detect_problems, clock, cid)  # every tenth household lacks tap water: 50 problems
    db.engine.dispose()
    return int(cid)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, its reaped children and its live descendants
    (/proc): on PostgreSQL serve answers through web worker processes of its own."""
    from duban.adapters.children import descendants

    def ticks(process: int) -> int:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile: its time is in its parent's reaped children's
            return 0
        return sum(int(x) for x in fields[11:15])  # utime stime cutime cstime

    # cutime counts reaped children only, so no process is counted twice.
    total = ticks(pid) + sum(ticks(child) for child in descendants(pid))
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def _served(url: str, tmp: Path) -> Iterator[tuple[str, int]]:
    from tests.web.serving import serve_child

    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_DATA_DIR": str(tmp / "data"),
           "DUBAN_SECRET_KEY": "bench-field-secret-" + "x" * 24}
    with serve_child(url, tmp, env, extra=("--now", NOW)) as (base, child):
        yield base, child.pid


class Phone:
    """An HTTP client signed in as the cadre (cookies sent by hand: they are Secure)."""

    def __init__(self, base: str) -> None:
        import httpx

        from tests.web.conftest import csrf_of

        self.client = httpx.Client(base_url=base, timeout=60)
        page = self.client.get("/login")
        self.cookies = dict(page.cookies.items())
        r = self.client.post("/login", data={"username": "cadre", "password": PASSWORD,
                                             "csrf_token": csrf_of(page.text), "next": "/m/"},
                             headers={"Cookie": self._cookie()}, follow_redirects=False)
        assert r.status_code == 303, r.text[:300]
        self.cookies.update(r.cookies.items())
        me = self.get("/api/m/campaigns")
        self.csrf = me["csrf_token"]

    def _cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def get(self, path: str) -> Any:
        r = self.client.get(path, headers={"Cookie": self._cookie()})
        r.raise_for_status()
        return r.json()

    def raw(self, path: str) -> bytes:
        r = self.client.get(path, headers={"Cookie": self._cookie()})
        r.raise_for_status()
        return r.content

    def post_visit(self, cid: int, visit: dict[str, Any], files: list[tuple[str, bytes]]
                   ) -> dict[str, Any]:
        r = self.client.post(f"/api/m/campaigns/{cid}/visits",
                             data={"visit": json.dumps(visit, ensure_ascii=False),
                                   "sent_at": NOW},
                             files=[("file", (fid, content, "application/octet-stream"))
                                    for fid, content in files],
                             headers={"Cookie": self._cookie(), "X-CSRF-Token": self.csrf})
        r.raise_for_status()
        answer: dict[str, Any] = r.json()
        return answer


@functools.cache  # the same photo for each backend: made once
def photo(seed: int, size: int = 200 * 1024) -> bytes:
    """A JPEG of about `size` bytes (noise compresses badly, like a real photo's detail)."""
    from PIL import Image

    rnd = random.Random(seed)
    side = 700
    while True:
        img = Image.effect_noise((side, side * 3 // 4), 50 + rnd.randrange(10)).convert("RGB")
        out = io.BytesIO()
        img.save(out, "JPEG", quality=80)
        if out.tell() >= size * 0.95 or side > 3000:
            return out.getvalue()
        side = int(side * 1.15)


def signature() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (680, 300), "white")
    ImageDraw.Draw(img).line([(40, 150), (200, 80), (360, 220), (520, 90), (640, 160)],
                             fill="black", width=5)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def measure(url: str, tmp: Path, households: int, visits: int) -> dict[str, float]:
    cid = _build(url, households)
    jpeg, png = photo(1), signature()
    with _served(url, tmp) as (base, pid):
        phone = Phone(base)
        setup = phone.raw(f"/api/m/campaigns/{cid}/setup")
        path = f"/api/m/campaigns/{cid}/villages/{VILLAGE}"
        best, body = float("inf"), b""
        for _ in range(5):
            started = time.perf_counter()
            body = phone.raw(path)
            best = min(best, time.perf_counter() - started)
        assert len(json.loads(body)["households"]) == households
        kept = len(setup) + len(body)
        started, cpu = time.perf_counter(), _cpu_seconds(pid)
        for n in range(1, visits + 1):
            photo_id, sign_id = uuid.uuid4().hex, uuid.uuid4().hex
            visit = {"client_id": uuid.uuid4().hex, "household_id": f"HD{n:05d}",
                     "mode": "面访", "answered_by": "", "findings": f"第{n}户走访情况正常",
                     "facts": {"house_grade": "C"} if n % 4 == 0 else {},
                     "recorded_at": NOW, "position": {"latitude": 33.39, "longitude": 115.1,
                                                      "accuracy": 15},
                     "files": [{"client_id": photo_id, "kind": "photo", "taken_at": NOW},
                               {"client_id": sign_id, "kind": "visitor_signature"}]}
            answer = phone.post_visit(cid, visit, [(photo_id, jpeg), (sign_id, png)])
            assert answer["status"] == "accepted", answer
            record = {**visit, "campaign": cid, "village": VILLAGE, "head": f"户主{n:03d}",
                      "state": "accepted", "answer": answer}
            kept += len(json.dumps(record, ensure_ascii=False).encode()) + len(png)
        sync = time.perf_counter() - started
        sync_cpu = _cpu_seconds(pid) - cpu
    return {"download_s": best, "download_bytes": len(body), "sync_s": sync,
            "sync_server_cpu_s": sync_cpu, "load": os.getloadavg()[0],
            "photo_bytes": len(jpeg), "kept_bytes": kept}


def run_suite(quick: bool, backends: list[str]) -> list[Entry]:
    """The field figures on each backend (quick: 100 households, 20 visits)."""
    from bench.common import scratch_database

    households, visits = (100, 20) if quick else (500, 100)
    out: list[Entry] = []
    for backend in backends:
        # A copy of the run's migrated, empty database (each migrated its own before).
        with tempfile.TemporaryDirectory() as tmp, scratch_database(backend) as url:
            r = measure(url, Path(tmp), households, visits)
        out += [
            Entry(f"field: download a village of {households} households (target < 2 s)",
                  backend, households, r["download_s"], "s"),
            Entry(f"field: sync {visits} visits with a "
                  f"{round(r['photo_bytes'] / 1024)} KB photo each (target < 10 s)",
                  backend, visits, r["sync_s"], "s"),
            Entry(f"field: duban serve's CPU for those {visits} visits (load {r['load']:.1f})",
                  backend, visits, r["sync_server_cpu_s"], "s"),
            Entry("field: kept on the phone for the village without photos (target < 5 MB)",
                  backend, households, r["kept_bytes"] / 1_000_000, "MB"),
        ]
    return out


if __name__ == "__main__":
    for entry in run_suite("--quick" in sys.argv, ["sqlite"]):
        print(f"{entry.name}: {entry.value:.3f} {entry.unit} ({entry.backend})")
