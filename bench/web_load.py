"""Web load test: dashboard and ledger pages over a million problems, 50 concurrent clients.

    python -m bench.web_load setup   # build the PostgreSQL database once (about a minute)
    python -m bench.web_load run     # start the server, sign 50 clients in, load it, report
    python -m bench.web_load pg-start / pg-stop   # optional private PostgreSQL, tuned

`setup` launches seed 002 (23 towns, 63 villages, 38 offices) through the service layer, adds
users (the county office, a supervisor, every town, every county office), then writes
1,000,000 problems and their co-offices with set-based SQL: statuses, deadlines, offices and
places spread the way a campaign in its rectification stage looks. `run` starts uvicorn on
127.0.0.1 in a child process, signs each client in as one of those users (a mix of roles, so
scoped queries run), and for a bounded time each client requests the dashboard or a ledger
page (random filters, sort and page) as fast as answers come (closed loop, no think time).
Latencies are measured at the client; the report gives p50 / p95 / p99 per page and role,
the CPU per request of the server and of PostgreSQL (from /proc, when PostgreSQL runs on this
host), and the load average.

`run --server serve --workers N` starts `duban serve --no-scheduler --web-workers N` instead of
uvicorn over this module's app factory: the server a county runs, with duban's own engine and
cache (`--pool`, `--cache`, `--http`, `--loop` do not apply to it).

Only 127.0.0.1 is ever contacted. Times use time.perf_counter.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/duban_web_bench"
PASSWORD = "Bench-pass-2022"
SECRET = "bench-secret-" + "k" * 32
NOW = "2022-10-10T10:00:00+08:00"  # mid-rectification: a spread of colours on the board


# ---- setup ------------------------------------------------------------------------------


def _admin_url(url: str) -> tuple[str, str]:
    base, name = url.rsplit("/", 1)
    return base + "/postgres", name


def setup(url: str, n: int, fresh: bool) -> None:
    """Create the database, launch seed 002, add users, insert n problems, analyse."""
    from sqlalchemy import create_engine, text

    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.clock import FixedClock
    from duban.domain.lifecycle import Role
    from duban.services.accounts import hash_password
    from duban.services.actors import add_user
    from duban.services.campaigns import launch_campaign
    from duban.services.database import Database

    admin_url, name = _admin_url(url)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("select 1 from pg_database where datname = :n"), {"n": name})
        if exists and fresh:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    db = Database(url)
    db.migrate()
    clock = FixedClock(dt.datetime.fromisoformat(NOW))
    with db.engine.connect() as conn:
        have = conn.scalar(text("select count(*) from problem"))
    if have and have >= n:
        print(f"database ready: {have} problems already")
        return
    plan_path = ROOT / "plans" / "seed-002-shenqiu.yaml"
    plan = load_plan_file(plan_path)
    started = time.perf_counter()
    cid = db.run(launch_campaign, clock, plan, plan_path.read_text(encoding="utf-8"), "county")
    digest = hash_password(PASSWORD)
    db.run(add_user, clock, username="county", name="县巩固办", role=Role.COUNTY, office="ggb",
             password_hash=digest)
    db.run(add_user, clock, username="sup", name="督导组", role=Role.SUPERVISOR, password_hash=digest)
    for town in plan.towns:
        db.run(add_user, clock, username=f"town-{town.code}", name=town.name, role=Role.TOWN,
                 town=town.code, password_hash=digest)
    county_offices = [o.code for o in plan.offices if o.level.value == "county"]
    for code in county_offices:
        db.run(add_user, clock, username=f"office-{code}", name=code, role=Role.OFFICE,
                 office=code, password_hash=digest)
    villages = [(t.code, v.code) for t in plan.towns for v in t.villages]
    categories = [c.code for c in plan.categories]
    sources = [s.code for s in plan.sources]
    # Lead offices and co-offices as the plan's routing table gives them (category decides;
    # 各乡镇 / 各村 become the problem's own town and village offices).
    from duban.domain.routing import Route, Router

    router = Router.for_plan(plan)
    town0, village0 = villages[0]
    leads, extra_co = [], []
    for code in categories:
        route = router.route(code, sources[0], town0, village0)
        leads.append(route.lead if isinstance(route, Route) else "")
        fixed = [o for o in route.co_offices if isinstance(route, Route)
                 and not o.startswith(("gov-", "village:"))] if isinstance(route, Route) else []
        extra_co.append(fixed[0] if fixed else "")

    def arr(values: list[str]) -> str:
        return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"

    # Rows arrive as the towns' spreadsheets do: village after village, town after town, so
    # a village's problems sit together on disk (as a real import writes them). Everything
    # else comes from a hash of the row number. Status: closed 40%, rectifying 25%,
    # routed 10%, submitted 10%, reviewed 5%, extension 3%, disputed 2%, voided 2%,
    # unrouted 3%. Deadlines spread over 40 days around "today" (2022-10-10).
    status_case = """CASE
        WHEN h < 40 THEN 'closed' WHEN h < 65 THEN 'rectifying' WHEN h < 75 THEN 'routed'
        WHEN h < 85 THEN 'submitted' WHEN h < 90 THEN 'reviewed'
        WHEN h < 93 THEN 'extension_requested' WHEN h < 95 THEN 'disputed'
        WHEN h < 97 THEN 'voided' ELSE 'unrouted' END"""
    nv, nc = len(villages), len(categories)
    insert = f"""
    INSERT INTO problem (campaign_id, code, natural_key, source, category, town_code,
        village_code, household_id, description, found_by, found_on, status, unrouted_reason,
        lead_office, routed_at, deadline, deadline_basis, submitted_by, rectified_by,
        review_passed_by, closed_at, reopen_count, created_at, updated_at, version)
    SELECT {cid}, 'W' || lpad(g::text, 7, '0'), md5('p' || g::text),
        ({arr(sources)})[1 + (h2 % 100) / 70 * (1 + h2 % {len(sources) - 1})],
        ({arr(categories)})[1 + ci],
        ({arr([t for t, _ in villages])})[1 + vi],
        ({arr([v for _, v in villages])})[1 + vi],
        'H' || lpad((vi * 5000 + h2 % 5000)::text, 7, '0'),
        (ARRAY['危房未改造，屋面漏雨','饮水管网未入户','适龄儿童辍学未劝返','未参加基本医疗保险',
               '收入低于监测线未纳入监测','卫生厕所未改造','帮扶措施未落实到户',
               '档案资料与实际不符'])[1 + h2 % 8] || '（第' || g || '号）',
        '排查人' || (h2 % 97), date '2022-09-15' + (h2 % 11),
        st, CASE WHEN st = 'unrouted' THEN '没有匹配的路由规则' END,
        CASE WHEN st <> 'unrouted' THEN NULLIF(({arr(leads)})[1 + ci], '') END,
        CASE WHEN st <> 'unrouted' THEN timestamp '2022-09-26 01:00' END,
        CASE WHEN st <> 'unrouted' THEN date '2022-09-25' + (h3 % 40) END,
        CASE WHEN st <> 'unrouted' THEN '按方案时限' END,
        CASE WHEN st IN ('submitted','reviewed','closed') THEN 'office' END,
        CASE WHEN st IN ('submitted','reviewed','closed') THEN 'office' END,
        CASE WHEN st IN ('reviewed','closed') THEN 'sup' END,
        CASE WHEN st = 'closed' THEN timestamp '2022-09-27 01:00' + (h3 % 1100000) * interval '1 second' END,
        0, timestamp '2022-09-15 01:00' + (h2 % 1000000) * interval '1 second',
        timestamp '2022-09-26 01:00' + (h3 % 1200000) * interval '1 second', 1
    FROM (SELECT g, abs(hashtext(g::text)) % 100 AS h, abs(hashtext('b' || g)) AS h2,
                 abs(hashtext('c' || g)) AS h3, ((g - 1) * {nv}) / {n} AS vi,
                 abs(hashtext('d' || g)) % {nc} AS ci
          FROM generate_series(1, {n}) g) s,
         LATERAL (SELECT {status_case} AS st) x
    """
    co = f"""
    INSERT INTO problem_co_office (problem_id, office_code, campaign_id)
    SELECT id, 'gov-' || town_code, {cid} FROM problem
    WHERE campaign_id = {cid} AND lead_office IS NOT NULL
    UNION ALL
    SELECT id, 'village:' || village_code, {cid} FROM problem
    WHERE campaign_id = {cid} AND lead_office IS NOT NULL
    UNION ALL
    SELECT p.id, x.co, {cid} FROM problem p JOIN (SELECT unnest({arr(categories)}) AS category,
                                                  unnest({arr(extra_co)}) AS co) x
        ON x.category = p.category AND x.co <> ''
    WHERE p.campaign_id = {cid} AND p.lead_office IS NOT NULL
    """
    with db.engine.begin() as conn:
        conn.execute(text(insert))
        conn.execute(text(co))
        conn.execute(text(f"UPDATE campaign SET problem_seq = {n} WHERE id = {cid}"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE problem"))
        conn.execute(text("VACUUM ANALYZE problem_co_office"))
    print(f"setup: {n} problems in {time.perf_counter() - started:.0f} s")


# ---- a private, tuned PostgreSQL --------------------------------------------------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_SETTINGS = ("-c listen_addresses=127.0.0.1 -c shared_buffers=1GB -c work_mem=16MB "
               "-c max_connections=200 -c effective_cache_size=4GB -c random_page_cost=1.1")


def pg_start(directory: Path, port: int) -> str:
    """initdb (once) and start a PostgreSQL on 127.0.0.1:port sized for a million problems.

    Debian's packaged server keeps the defaults (128 MB shared_buffers): the problem table and
    its indexes (about 750 MB) then do not fit and every page read goes through the kernel.
    Runs the server as the postgres user (this must run as root or as postgres).
    """
    data = directory / "data"
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if not data.exists():
        directory.mkdir(parents=True, exist_ok=True)
        if as_pg:
            subprocess.run(["chown", "postgres:postgres", str(directory)], check=True)
        subprocess.run([*as_pg, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust",
                        "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l",
                    str(directory / "log"), "-w", "-o",
                    f"-p {port} -k {directory} {PG_SETTINGS}", "start"], check=True)
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/duban_web_bench"


def pg_stop(directory: Path) -> None:
    """Stop the private PostgreSQL."""
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(directory / "data"), "-m",
                    "fast", "stop"], check=False)


# ---- the server -------------------------------------------------------------------------


def make_app() -> Any:
    """The app for uvicorn --factory: the bench database and a fixed clock."""
    from duban.domain.clock import FixedClock
    from duban.services.database import Database, make_engine
    from duban.services.root import Root
    from duban.web.app import create_app

    url = os.environ.get("DUBAN_BENCH_PG", DEFAULT_URL)
    # A pool as large as the server's thread pool can use at once: with SQLAlchemy's default
    # (5 + 10 overflow), overflow connections are closed on return and opened again on the
    # next request, and PostgreSQL spends its time forking backends (docs/web.md, "Load").
    pool = int(os.environ.get("DUBAN_BENCH_POOL", "40"))
    # The engine as duban makes it (its prepared statements, its check of pooled connections),
    # with the bench's pool size.
    engine = make_engine(url, pool_size=pool, max_overflow=10) if pool else None
    db = Database(url, engine=engine)
    clock = FixedClock(dt.datetime.fromisoformat(NOW))
    return create_app(Root(db=db, clock=clock), secret_key=SECRET,
                      cache_seconds=float(os.environ.get("DUBAN_BENCH_CACHE", "30")))


def start_server(url: str, port: int, workers: int, cache: float,
                 pool: int, http: str = "auto", loop: str = "auto") -> subprocess.Popen[bytes]:
    env = {**os.environ, "DUBAN_BENCH_PG": url, "DUBAN_BENCH_CACHE": str(cache),
           "DUBAN_BENCH_POOL": str(pool),
           "DUBAN_DATA_DIR": str(Path("/tmp") / "duban-web-bench"),
           # httpx, unlike browsers, keeps Secure cookies off plain-HTTP loopback.
           "DUBAN_COOKIE_SECURE": "0"}
    cmd = [sys.executable, "-m", "uvicorn", "bench.web_load:make_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning", "--no-access-log", "--http", http, "--loop", loop]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    _wait_answering(proc, port)
    return proc


def start_serve(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """`duban serve --no-scheduler --web-workers N` as the server: what a county runs (its
    default database engine and cache), on the bench database at the bench's fixed time."""
    env = {**os.environ, "DUBAN_SECRET_KEY": SECRET,
           "DUBAN_DATA_DIR": str(Path("/tmp") / "duban-web-bench"),
           "DUBAN_COOKIE_SECURE": "0"}
    for name in ("DUBAN_WEB_WORKERS", "DUBAN_TRUSTED_PROXIES", "DUBAN_ACCESS_LOG"):
        env.pop(name, None)
    cmd = [sys.executable, "-c", "from duban.cli import main; main()", "--db", url,
           "--now", NOW, "serve", "--no-scheduler", "--host", "127.0.0.1",
           "--port", str(port), "--web-workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    _wait_answering(proc, port)
    return proc


def _wait_answering(proc: subprocess.Popen[bytes], port: int) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the web server exited")
        time.sleep(0.3)
    stop_server(proc)
    raise RuntimeError("the web server did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


# ---- CPU accounting ---------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds of the process and its reaped children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[1]), sum(int(v) for v in fields[11:15]) / TICK


def tree_cpu(root: int) -> float:
    """CPU seconds of a process tree: the root, its live descendants and their reaped children."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                stats[int(entry.name)] = st
    total, todo, seen = 0.0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == pid)
    return total


def postmaster_pid(url: str) -> int | None:
    """The pid of the PostgreSQL serving `url`, when it runs on this host (its data directory's
    postmaster.pid); None when it cannot be read."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            data = conn.scalar(text("show data_directory"))
    finally:
        engine.dispose()
    try:
        return int(Path(str(data), "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# ---- the clients ------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


async def sign_in(client: Any, username: str) -> None:
    page = await client.get("/login")
    token = CSRF.search(page.text)
    assert token, "no CSRF token on the sign-in page"
    r = await client.post("/login", data={"username": username, "password": PASSWORD,
                                          "csrf_token": token.group(1)})
    assert r.status_code == 303, (username, r.status_code, r.text[:200])


def users(url: str) -> list[tuple[str, str]]:
    """(username, role) of the bench users."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("select username, role from app_user order by id")).all()
    engine.dispose()
    return [(u, r) for u, r in rows]


def pick_request(rng: random.Random, cid: int, towns: list[str], offices: list[str],
                 dashboards: float = 0.5) -> tuple[str, str]:
    """(kind, path): dashboards (half by default) and ledger pages with a spread of filters
    and pages."""
    if rng.random() < dashboards:
        return "dashboard", f"/?campaign={cid}"
    # Most looks are at the first pages; a few go deep (up to page 20, row 1000).
    roll = rng.random()
    page = 1 if roll < 0.5 else rng.randint(2, 5) if roll < 0.85 else rng.randint(6, 20)
    params = [f"campaign={cid}", f"page={page}"]
    roll = rng.random()
    if roll < 0.25:
        params.append(f"town={rng.choice(towns)}")
    elif roll < 0.45:
        params.append(f"status={rng.choice(['rectifying', 'routed', 'submitted', 'closed'])}")
    elif roll < 0.55:
        params.append(f"band={rng.choice(['red', 'yellow', 'overdue'])}")
    elif roll < 0.65:
        params.append(f"office={rng.choice(offices)}")
    sort = rng.choice(["deadline", "deadline", "code", "updated", "found_on"])
    params.append(f"sort={sort}")
    if rng.random() < 0.3:
        params.append("desc=1")
    return "ledger", "/ledger?" + "&".join(params)


class StreamClient:
    """A lean keep-alive HTTP/1.1 client for GETs on loopback: one connection, plain asyncio
    streams, the cookies it was handed (and any the server sets). The bench's load runs on
    the same cores as the server: httpx took 1.1–1.3 ms of CPU a request, this a fraction.

    `get(path)` answers (status, body) as httpx's `client.get(path)` did for the bench: the
    whole body read, the connection reused, opened again if the server closed it.
    """

    def __init__(self, host: str, port: int, cookies: dict[str, str], timeout: float = 30) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.cookies = dict(cookies)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def _request(self, path: str) -> bytes:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return (f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Accept: */*\r\nUser-Agent: duban-bench\r\nCookie: {cookie}\r\n\r\n"
                ).encode("latin-1")

    async def get(self, path: str) -> tuple[int, bytes]:
        """GET a path: its status and body."""
        return await asyncio.wait_for(self._get(path), self.timeout)

    async def _get(self, path: str) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            assert self._reader is not None
            self._writer.write(self._request(path))
            try:
                head = await self._reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                await self.close()  # the server closed a kept-alive connection: once more
                if attempt == 2:
                    raise
                continue
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            length, chunked, close = None, False, False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name, value = name.strip().lower(), value.strip()
                if name == "content-length":
                    length = int(value)
                elif name == "transfer-encoding" and "chunked" in value.lower():
                    chunked = True
                elif name == "connection" and value.lower() == "close":
                    close = True
                elif name == "set-cookie":
                    self._keep_cookie(value)
            body = await (self._chunked() if chunked else
                          self._reader.readexactly(length or 0))
            if close:
                await self.close()
            return status, body
        raise ConnectionError("unreachable")

    async def _chunked(self) -> bytes:
        assert self._reader is not None
        parts = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await self._reader.readexactly(size + 2))
            if size == 0:
                return b"".join(parts)[:-2]

    def _keep_cookie(self, header: str) -> None:
        pair, _, attrs = header.partition(";")
        name, _, value = pair.strip().partition("=")
        gone = "max-age=0" in attrs.lower().replace(" ", "") or value in ("", '""')
        if gone:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value

    async def close(self) -> None:
        """Close the connection (a later get opens another)."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


async def run_load(base: str, accounts: list[tuple[str, str]], clients: int, seconds: float,
                   warmup: float, seed: int, think: float = 0.0,
                   dashboards: float = 0.5,
                   processes: dict[str, int | None] | None = None,
                   client_kind: str = "httpx",
                   timeline: list[tuple[float, float, str, str, int, str]] | None = None,
                   ) -> dict[str, Any]:
    import httpx

    rng = random.Random(seed)
    towns = [u.removeprefix("town-") for u, r in accounts if r == "town"]
    offices = [u.removeprefix("office-") for u, r in accounts if r == "office"]
    # A realistic mix: a few county and supervisor screens, many towns and offices.
    cast = [accounts[0], accounts[1], *rng.sample(accounts[2:], k=min(len(accounts) - 2, 48))]
    while len(cast) < clients:
        cast.append(rng.choice(accounts))
    cast = cast[:clients]
    limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)
    sessions = [httpx.AsyncClient(base_url=base, limits=limits, timeout=30) for _ in cast]
    # Sign in a few at a time: fifty password checks at once on a loaded machine outlasted
    # the 30 s client timeout (the measured window starts later either way).
    gate = asyncio.Semaphore(8)

    async def signed(client: Any, username: str) -> None:
        async with gate:
            await sign_in(client, username)

    await asyncio.gather(*(signed(c, u) for c, (u, _) in zip(sessions, cast, strict=True)))
    # Signed in through httpx either way; with --client streams the load itself goes through
    # StreamClient over the same cookies (the same request mix, timing and errors).
    host, port = base.removeprefix("http://").split(":")
    streams = [StreamClient(host, int(port), dict(c.cookies.items())) for c in sessions]
    cid = 1
    samples: list[tuple[str, str, float, int]] = []
    slowest: list[tuple[float, str, str]] = []
    errors = 0
    measuring = False
    stop_at = started = 0.0

    async def worker(i: int) -> None:
        nonlocal errors
        client, (_, role) = sessions[i], cast[i]
        local = random.Random(seed * 1000 + i)
        while time.perf_counter() < stop_at:
            kind, path = pick_request(local, cid, towns, offices, dashboards)
            t0 = time.perf_counter()
            try:
                if client_kind == "streams":
                    status, _ = await streams[i].get(path)
                else:
                    status = (await client.get(path)).status_code
            except (httpx.HTTPError, OSError, TimeoutError, ValueError,
                    asyncio.IncompleteReadError):
                status = 0
            took = time.perf_counter() - t0
            if status != 200:
                errors += 1
            if measuring:
                samples.append((kind, role, took, status))
                if timeline is not None:
                    timeline.append((t0 - started, took, kind, role, status, path))
                if took > 1.0:
                    slowest.append((took, role, path))
            if think:
                # A clerk reads the page before the next click: think/2 .. 3*think/2.
                await asyncio.sleep(local.uniform(think / 2, think * 3 / 2))

    # Warm-up (caches, connection pools), then the measured window.
    stop_at = time.perf_counter() + warmup
    await asyncio.gather(*(worker(i) for i in range(len(cast))))
    measuring = True
    errors = 0
    watched = {name: pid for name, pid in (processes or {}).items() if pid}
    cpu_before = {name: tree_cpu(pid) for name, pid in watched.items()}
    client_before = time.process_time()
    load_before = os.getloadavg()
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(worker(i) for i in range(len(cast))))
    elapsed = time.perf_counter() - started
    cpu = {name: tree_cpu(pid) - cpu_before[name] for name, pid in watched.items()}
    cpu["client"] = time.process_time() - client_before
    load_after = os.getloadavg()
    for c in sessions:
        await c.aclose()
    for s in streams:
        await s.close()
    result = summarise(samples, elapsed, errors, clients)
    # perf_counter is the system's monotonic clock on Linux: a server's log of the same
    # clock lines up with the timeline.
    result["started_monotonic"] = round(started, 4)
    n = max(len(samples), 1)
    result["cpu_seconds"] = {name: round(v, 2) for name, v in cpu.items()}
    result["cpu_ms_per_request"] = {name: round(v * 1000 / n, 2) for name, v in cpu.items()}
    result["loadavg"] = {"before": [round(v, 2) for v in load_before],
                         "after": [round(v, 2) for v in load_after]}
    result["slowest"] = [{"ms": round(t * 1000), "role": r, "path": p}
                         for t, r, p in sorted(slowest, reverse=True)[:15]]
    return result


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def summarise(samples: list[tuple[str, str, float, int]], elapsed: float, errors: int,
              clients: int) -> dict[str, Any]:
    groups: dict[str, list[float]] = defaultdict(list)
    for kind, role, took, _ in samples:
        groups[kind].append(took)
        groups[f"{kind}/{role}"].append(took)
        groups["all"].append(took)
    table = {
        name: {"n": len(v), "p50_ms": round(pct(v, 50) * 1000, 1),
               "p95_ms": round(pct(v, 95) * 1000, 1), "p99_ms": round(pct(v, 99) * 1000, 1),
               "max_ms": round(max(v) * 1000, 1), "mean_ms": round(statistics.fmean(v) * 1000, 1)}
        for name, v in sorted(groups.items())
    }
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": len(samples),
            "errors": errors, "rps": round(len(samples) / elapsed, 1), "latency": table}


def write_timeline(path: Path, timeline: list[tuple[float, float, str, str, int, str]],
                   started: float) -> None:
    """Every measured request as a CSV row, in the order they were sent (also on the
    system's monotonic clock, to line it up with a server's own log)."""
    import csv

    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["sent_s", "ms", "kind", "role", "status", "path", "sent_monotonic"])
        for sent, took, kind, role, status, req in sorted(timeline):
            out.writerow([f"{sent:.3f}", f"{took * 1000:.1f}", kind, role, status, req,
                          f"{started + sent:.4f}"])


def print_report(result: dict[str, Any]) -> None:
    print(f"{result['clients']} clients (think {result.get('think_seconds', 0)} s, "
          f"{result.get('client', 'httpx')} client), "
          f"{result['seconds']} s, {result['requests']} requests, "
          f"{result['rps']} req/s, {result['errors']} errors")
    print(f"{'page':28} {'n':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, row in result["latency"].items():
        print(f"{name:28} {row['n']:>7} {row['p50_ms']:>8} {row['p95_ms']:>8} "
              f"{row['p99_ms']:>8} {row['max_ms']:>8}")
    per = result.get("cpu_ms_per_request", {})
    if per:
        print("CPU per request: " + ", ".join(f"{k} {v} ms" for k, v in per.items()))
    if "loadavg" in result:
        print(f"load average before {result['loadavg']['before']}, "
              f"after {result['loadavg']['after']}")
    for slow in result.get("slowest", []):
        print(f"  slow: {slow['ms']:>6} ms {slow['role']:10} {slow['path']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("pg-start", help="start a private PostgreSQL sized for the bench")
    g.add_argument("--dir", type=Path, default=Path("/tmp/duban-web-pg"))
    g.add_argument("--port", type=int, default=5433)
    h = sub.add_parser("pg-stop", help="stop the private PostgreSQL")
    h.add_argument("--dir", type=Path, default=Path("/tmp/duban-web-pg"))
    s = sub.add_parser("setup", help="build the bench database")
    s.add_argument("--url", default=os.environ.get("DUBAN_BENCH_PG", DEFAULT_URL))
    s.add_argument("--problems", type=int, default=1_000_000)
    s.add_argument("--fresh", action="store_true", help="drop and rebuild the database")
    r = sub.add_parser("run", help="load the dashboard and ledger pages")
    r.add_argument("--url", default=os.environ.get("DUBAN_BENCH_PG", DEFAULT_URL))
    r.add_argument("--clients", type=int, default=50)
    r.add_argument("--seconds", type=float, default=60.0)
    r.add_argument("--warmup", type=float, default=10.0)
    r.add_argument("--workers", type=int, default=2,
                   help="web worker processes (uvicorn --workers, or serve --web-workers)")
    r.add_argument("--server", default="uvicorn", choices=["uvicorn", "serve"],
                   help="uvicorn over the bench's app factory (its --pool and --cache), or "
                   "`duban serve --no-scheduler --web-workers N` as a county runs it (duban's "
                   "own engine and 30 s cache; --pool, --cache, --http, --loop do not apply)")
    r.add_argument("--port", type=int, default=8799)
    r.add_argument("--cache", type=float, default=30.0, help="aggregate cache seconds")
    r.add_argument("--seed", type=int, default=7)
    r.add_argument("--dashboards", type=float, default=0.5,
                   help="share of requests that are dashboards (the rest: ledger pages)")
    r.add_argument("--think", type=float, default=0.0,
                   help="mean seconds a client waits between requests (0: closed loop)")
    r.add_argument("--pool", type=int, default=40,
                   help="database pool size per worker (0: duban's default engine)")
    r.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"],
                   help="uvicorn's HTTP parser (auto: httptools when installed)")
    r.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"],
                   help="uvicorn's event loop (auto: uvloop when installed)")
    r.add_argument("--client", default="httpx", choices=["httpx", "streams"],
                   help="the load's HTTP client: httpx (as every pass before the seventh), or "
                   "the bench's lean keep-alive client over asyncio streams (less of the "
                   "shared cores' CPU; sign-in goes through httpx either way)")
    r.add_argument("--json", type=Path, help="also write the result here")
    r.add_argument("--timeline", type=Path,
                   help="also write every measured request here, as CSV: seconds into the "
                   "window when it was sent, milliseconds it took, kind, role, status, path "
                   "(to see when the slow ones come: the kept counts' refreshes, a stall)")
    args = parser.parse_args()
    if args.cmd == "pg-start":
        print(pg_start(args.dir, args.port))
        return
    if args.cmd == "pg-stop":
        pg_stop(args.dir)
        return
    if args.cmd == "setup":
        setup(args.url, args.problems, args.fresh)
        return
    if args.seconds > 600:
        parser.error("--seconds is bounded at 600")
    if args.server == "serve":
        proc = start_serve(args.url, args.port, args.workers)
    else:
        proc = start_server(args.url, args.port, args.workers, args.cache, args.pool,
                            args.http, args.loop)
    try:
        processes = {"server": proc.pid, "postgresql": postmaster_pid(args.url)}
        timeline: list[tuple[float, float, str, str, int, str]] | None = (
            [] if args.timeline else None)
        result = asyncio.run(run_load(f"http://127.0.0.1:{args.port}", users(args.url),
                                      args.clients, args.seconds, args.warmup, args.seed,
                                      args.think, args.dashboards, processes,
                                      args.client, timeline))
    finally:
        stop_server(proc)
    if args.timeline and timeline is not None:
        write_timeline(args.timeline, timeline, result["started_monotonic"])
    result["server"] = args.server
    result["workers"] = args.workers
    result["cache_seconds"] = args.cache
    result["pool"] = args.pool
    result["think_seconds"] = args.think
    result["http"], result["loop"] = args.http, args.loop
    result["client"] = args.client
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
