"""Script fragments the write floors' child processes share (issue 17's honest floors).

A floor writes exactly the rows a measured step wrote, read back from its campaign and written
into the same tables with the same indexes and constraints (the intake floors: into a copy of
the database as it was before the import, same campaign, same ids; 排查's: to a twin campaign
launched from the same plan), by the backend's fastest path: `COPY … FROM STDIN` of
PostgreSQL's own text form of the rows (its binary form was measured no cheaper for the server,
2026-12-04), one raw `executemany` of the stored values on SQLite, in one transaction, the rows
prepared before the clock starts. The intake floors (bench/intake_suite.py) and 排查's
(bench/investigate_suite.py) prepend these to their own scripts.
"""

from __future__ import annotations

# CPU seconds of this process and, on PostgreSQL, of a server backend (by pid).
CPU = r"""
import os, time
def backend_cpu(pid):
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
def cpu(pid):
    return time.process_time() + backend_cpu(pid)
"""

# `peak_mib()`: this process's own peak resident memory, its address space's high-water mark
# (VmHWM). Not ru_maxrss: Linux keeps across exec the peak of the process that started it (the
# bench's, 130–150 MiB in a quick run), so a child's ru_maxrss read the larger of the two.
PEAK = r"""
def peak_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

# `settle(conn)`: on PostgreSQL, a CHECKPOINT before a measured step's clock starts, so the
# step does not write back pages the step before it left dirty. The floor runs right after the
# import: unsettled, its backend wrote 118 MB for the ledger's rows, settled 85 MB (the import
# 120 and 112 MB): about a quarter of the floor's writes were the import's. Both start settled.
SETTLE = r"""
def settle(conn):
    if conn.dialect.name == "postgresql":
        from sqlalchemy import text as _text
        conn.execute(_text("CHECKPOINT"))
        conn.commit()
"""

# CPU, plus: `connect` (a raw connection, its cursor and, on PostgreSQL, its backend's pid),
# `plan` (a table's columns and the SELECT that reads the rows to copy, with some
# columns replaced by expressions: a twin's campaign, shifted problem ids), `prepare` (the rows
# in the write's own form, read before the clock), `write` (the fastest write, not committed;
# on SQLite with the page cache duban's bulk writer uses, `bulk.BULK_CACHE_KIB`)
# and `resync_problem_ids` (explicit ids passed PostgreSQL's sequence).
ROWS = CPU + r"""
import io
def connect(engine):
    raw = engine.raw_connection()
    cur = raw.cursor()
    pid = None
    if engine.dialect.name == "postgresql":
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    return raw, cur, pid
def plan(table, frm, where, **exprs):
    cols = [c.name for c in table.c if c.name != "id" or "id" in exprs]
    sel = ", ".join(exprs.get(c, f"t.{c}") for c in cols)
    return table.name, cols, f"SELECT {sel} FROM {frm} WHERE {where}"
def prepare(cur, pg, plans):
    prepared = []
    for name, cols, sql in plans:
        if pg:
            buf = io.BytesIO()
            with cur.copy(f"COPY ({sql}) TO STDOUT") as copy:
                for chunk in copy:
                    buf.write(chunk)
            prepared.append((name, cols, buf.getvalue(), buf.getvalue().count(b"\n")))
        else:
            rows = cur.execute(sql).fetchall()
            prepared.append((name, cols, rows, len(rows)))
    return prepared
def write(cur, pg, prepared):
    if not pg:  # the page cache duban's bulk writer gives SQLite (bulk.sqlite_bulk_cache)
        from duban.services.bulk import BULK_CACHE_KIB
        cur.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    for name, cols, data, _ in prepared:
        names = ", ".join(cols)
        if pg:
            with cur.copy(f"COPY {name} ({names}) FROM STDIN") as copy:
                copy.write(data)
        else:
            cur.executemany(
                f"INSERT INTO {name} ({names}) VALUES ({', '.join('?' * len(cols))})", data)
def resync_problem_ids(cur):
    cur.execute("SELECT setval(pg_get_serial_sequence('problem', 'id'), max(id)) FROM problem")
"""
