"""Bulk writes at the driver's speed: COPY on PostgreSQL, one raw executemany on SQLite.

SQLAlchemy's executemany builds a parameter dict per row and runs each column's bind processor
per value; at tens of thousands of rows that costs several times the database's own work (and
psycopg then parses huge multi-row INSERTs). Here rows go to the driver as tuples, each
column's bind processor runs once per distinct value, and PostgreSQL receives a COPY stream.
Both run on the session's own connection, inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from itertools import islice
from typing import Any, TypeVarTuple

from sqlalchemy import (
    JSON,
    Row,
    Select,
    Table,
    any_,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy import cast as cast_
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Date, DateTime, NullType, Time, TypeDecorator, TypeEngine

Converter = Callable[[Any], Any]
Columns = TypeVarTuple("Columns")
IN_CHUNK = 5000  # values per IN list; SQLite allows 32,766 parameters a statement
PROGRESS_EVERY = 5000  # rows between progress reports
# Rows a bulk write must add before its tables' planner statistics are refreshed at commit
# (UnitOfWork.analyze_after_commit); smaller writes wait for autovacuum.
ANALYZE_ROWS = 10_000
# SQLite's page cache during a bulk insert, in KiB (its default is 2,000 KiB).
BULK_CACHE_KIB = 65_536
_NUMBERS = {bool, int, float, Decimal}
# Column types whose values psycopg formats for COPY by a Python call per value (isoformat),
# while a bulk write's values repeat (an import's `now` on every row, a few hundred days).
_DUMPED_ONCE = (Date, DateTime, Time)


def _converter(type_: TypeEngine[Any], dialect: Dialect) -> Converter | None:
    if dialect.name == "postgresql" and isinstance(type_, JSON):
        # COPY takes JSON as text (SQLAlchemy's processor would wrap it as a query parameter);
        # json.dumps is what SQLAlchemy serialises with when the engine names no serialiser.
        return json.dumps
    return type_.dialect_impl(dialect).bind_processor(dialect)


class _Done(dict[Any, Any]):
    """Values converted by `process`, each on its first sight (a miss)."""

    def __init__(self, process: Converter) -> None:
        super().__init__()
        self.process = process

    def __missing__(self, value: Any) -> Any:
        done = self[value] = self.process(value)
        return done


def _converted(process: Converter, values: Sequence[Any]) -> Iterable[Any]:
    """A column's values through `process`, once per distinct value, mapped at C speed."""
    done = _Done(process)
    try:
        # One pass: each pass over a column of 300,000 cells costs ~10-50 ms.
        out = list(map(done.__getitem__, values))
    except TypeError:  # JSON dicts or lists: one call per distinct object, found by identity
        # `values` holds every object for the whole write, so no id is reused meanwhile.
        objects = dict(zip(map(id, values), values, strict=True))
        by_id = {key: process(value) for key, value in objects.items()}
        return map(by_id.__getitem__, map(id, values))
    # 1, 1.0 and True are one key but may not convert alike: then a call per value. Any of
    # them makes 1 or 0 a key, so only then are the values' types looked at.
    if (0 in done or 1 in done) and len(set(map(type, values)) & _NUMBERS) > 1:
        return map(process, values)
    return out


def _counted(rows: Iterable[Sequence[Any]], progress: Callable[[int], None]
             ) -> Iterator[Sequence[Any]]:
    """The rows, telling `progress` how many went by every PROGRESS_EVERY rows and at the end."""
    done = 0
    for done, row in enumerate(rows, 1):
        yield row
        if done % PROGRESS_EVERY == 0:
            progress(done)
    if done:
        progress(done)


def insert_rows(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    progress: Callable[[int], None] | None = None,
    settled: bool = False,
) -> int:
    """Insert rows (tuples in `columns` order) into `table`; returns how many were written.

    `progress`, when given, hears the number of rows handed to the driver so far, every
    PROGRESS_EVERY rows and once at the end (not at all when there are no rows). With
    `settled`, it hears them only once the database has written them: a paced stage's pause
    there then idles the database's backend too (see `_insert`).
    """
    dialect = session.connection().dialect
    if not any(_converter(table.c[name].type, dialect) is not None
               or _dumped_once(table.c[name].type, dialect) for name in columns):
        return _insert(session, table, columns, rows, progress, settled)
    # Column by column: each converter sees a column's distinct values once and the rows
    # are transposed and rebuilt by zip, instead of a Python call per value.
    cells = list(zip(*rows, strict=True))
    if not cells:
        return 0
    return insert_columns(session, table, columns, cells, progress=progress, settled=settled)


def insert_columns(
    session: Session,
    table: Table,
    columns: Sequence[str],
    cells: Sequence[Sequence[Any]],
    *,
    progress: Callable[[int], None] | None = None,
    settled: bool = False,
) -> int:
    """Insert rows given column by column (`cells[i]` holds `columns[i]`'s values, all of
    one length); returns how many were written. `progress` and `settled` as for
    `insert_rows`.

    For a writer that holds its rows as columns already (a validated register): each
    converter maps its column once, and the rows are zipped once, for the driver.
    """
    dialect = session.connection().dialect
    converted: list[Iterable[Any]] = list(cells)
    as_text: Callable[[Any], Any] | None = None
    for i, name in enumerate(columns):
        type_ = table.c[name].type
        convert = _converter(type_, dialect)
        if convert is not None:
            converted[i] = _converted(convert, cells[i])
        if _dumped_once(type_, dialect):
            if as_text is None:
                as_text = _copy_text(session)
            converted[i] = _dumped(as_text, list(converted[i]))
    return _insert(session, table, columns, zip(*converted, strict=True), progress, settled)


def _dumped_once(type_: TypeEngine[Any], dialect: Dialect) -> bool:
    """Whether a column's values go to COPY as psycopg's text of each distinct value."""
    # A decorated type (UTCDateTime) is its stored type's once its bind processor has run.
    stored = type_.impl_instance if isinstance(type_, TypeDecorator) else type_
    return dialect.name == "postgresql" and isinstance(stored, _DUMPED_ONCE)


def _copy_text(session: Session) -> Callable[[Any], Any]:
    """A value as the text psycopg's own dumper on this connection gives it for COPY (None
    stays None): COPY then receives the same bytes as it would from the value itself."""
    from psycopg.adapt import PyFormat, Transformer  # psycopg only: not imported on SQLite

    raw = session.connection().connection.driver_connection
    transformer, encoding = Transformer(raw), raw.info.encoding  # type: ignore[union-attr]

    def as_text(value: Any) -> Any:
        if value is None:
            return None
        dumped = transformer.get_dumper(value, PyFormat.TEXT).dump(value)
        return None if dumped is None else bytes(dumped).decode(encoding)

    return as_text


def _dumped(as_text: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
    """`as_text` of each value, called once per distinct object: keyed by identity, since
    equal values may not format alike (one instant at two UTC offsets, a date and 1)."""
    objects = dict(zip(map(id, values), values, strict=True))
    texts = {key: as_text(value) for key, value in objects.items()}
    return list(map(texts.__getitem__, map(id, values)))


def _insert(session: Session, table: Table, columns: Sequence[str],
            rows: Iterable[Sequence[Any]], progress: Callable[[int], None] | None,
            settled: bool = False) -> int:
    """Rows, converted already, to the driver: COPY on PostgreSQL, executemany on SQLite."""
    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    raw = connection.connection.driver_connection
    assert raw is not None
    if dialect.name == "postgresql":
        statement = f"COPY {quote(table.name)} ({names}) FROM STDIN"
        if settled and progress is not None:
            return _settled_copy(raw, statement, rows, progress)
        if progress is not None:
            rows = _counted(rows, progress)
        written = 0
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
                written += 1
        return written
    if progress is not None:
        rows = _counted(rows, progress)
    marks = ", ".join("?" * len(columns))
    written = 0
    cursor = raw.cursor()
    try:
        with sqlite_bulk_cache(cursor):
            cursor.executemany(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})",
                               rows)
            written = cursor.rowcount
    finally:
        cursor.close()
    return written


def _settled_copy(raw: Any, statement: str, rows: Iterable[Sequence[Any]],
                  progress: Callable[[int], None]) -> int:
    """The rows as one COPY per PROGRESS_EVERY rows, `progress` heard after each has ended.

    One COPY streams: the driver sends buffers as they fill and the backend writes them while
    the client makes more, so a pause between two progress reports left the backend writing
    on through it (a county's 57,000 problems and their 19 indexes took the backend 1.2 s of
    CPU, paced or not). A COPY ends only once the backend has written its rows: between two,
    client and backend are both idle."""
    written = 0
    rows = iter(rows)
    with raw.cursor() as cursor:
        while batch := list(islice(rows, PROGRESS_EVERY)):
            with cursor.copy(statement) as copy:
                write = copy.write_row
                for row in batch:
                    write(row)
            written += len(batch)
            progress(written)
    return written


@contextmanager
def sqlite_bulk_cache(cursor: Any) -> Iterator[None]:
    """SQLite's page cache raised to BULK_CACHE_KIB on this connection while in the block,
    then put back (freeing the pages past the old size).

    Tens of thousands of rows go into tables with a dozen indexes whose pages do not fit the
    default 2 MB cache: the same pages were read again from the file system between rows
    (a county's detection wrote its 136,000 rows with ~0.1 s less CPU at 64 MB)."""
    (size,) = cursor.execute("PRAGMA cache_size").fetchone()
    if size >= 0:  # in pages
        (page,) = cursor.execute("PRAGMA page_size").fetchone()
        kib = size * page // 1024
    else:
        kib = -size
    if kib >= BULK_CACHE_KIB:
        yield
        return
    cursor.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        cursor.execute(f"PRAGMA cache_size = {int(size)}")


def where_in(
    session: Session,
    stmt: Select[*Columns],
    column: QueryableAttribute[Any] | ColumnElement[Any],
    values: Sequence[Any],
) -> Iterator[Row[*Columns]]:
    """Rows of `stmt` whose `column` is one of `values`, however many values there are.

    PostgreSQL gets them as one array parameter (`= ANY`), which it plans once; elsewhere
    they go in chunks of IN lists short enough for every driver's parameter limit.
    """
    if not values:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY  # not imported on SQLite

        array: ColumnElement[Any]
        if set(map(type, values)) == {str}:
            # Text goes as one array literal, cast by the server: psycopg's list dumper
            # dumps element by element in Python (30,000 keys cost 0.04 s of CPU).
            # Untyped, so no cast of SQLAlchemy's own comes between: the server reads the
            # literal as the array type and plans with it as a constant, which it hashes
            # (under `CAST($1::VARCHAR AS …)` it did not, and compared every row with every
            # key: 27,000 keys took 15 minutes).
            array = cast_(bindparam("values", _text_array(values), type_=NullType()),
                          ARRAY(column.type))
        else:
            array = bindparam("values", list(values), type_=ARRAY(column.type))
        yield from session.execute(stmt.where(column == any_(array)))
        return
    for i in range(0, len(values), IN_CHUNK):
        yield from session.execute(stmt.where(column.in_(values[i : i + IN_CHUNK])))


def _text_array(values: Sequence[str]) -> str:
    """PostgreSQL's text form of an array of these strings: each quoted, with its double
    quotes and backslashes escaped."""
    joined = "".join(values)
    if '"' in joined or "\\" in joined:
        values = [v.replace("\\", "\\\\").replace('"', '\\"') for v in values]
    return '{"' + '","'.join(values) + '"}'


def sqlite_in(session: Session, sql: str, params: Sequence[Any], values: Sequence[Any]
              ) -> Iterator[tuple[Any, ...]]:
    """Rows of SQLite `sql`, whose `{marks}` becomes the chunk's `?` marks, for each chunk of
    `values` (driver-ready), after `params`; run on the session's connection by the driver.

    SQLAlchemy renders an expanding IN's thousands of parameters in Python on every execution,
    which cost more than SQLite's lookups (a 30,000-row ledger's checks, issue 17).
    """
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for i in range(0, len(values), IN_CHUNK):
            chunk = values[i : i + IN_CHUNK]
            yield from cursor.execute(sql.format(marks=", ".join("?" * len(chunk))),
                                      (*params, *chunk))
    finally:
        cursor.close()


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` unused primary keys of `table`, for rows the caller inserts with explicit ids.

    On SQLite the caller must already hold the write lock (any write in its transaction takes
    it), so no one else can take the ids between this read and the insert.
    """
    if count <= 0:
        return []
    id_column = table.c.id
    if session.get_bind().dialect.name == "postgresql":
        sequence = session.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"),
                                  {"t": table.name})
        # One array, not a row per id: psycopg parses it in C (30,000 rows cost 0.1 s).
        return list(session.scalar(
            text("SELECT array_agg(nextval(:s)) FROM generate_series(1, :n)"),
            {"s": sequence, "n": count}))
    top = session.scalar(select(func.coalesce(func.max(id_column), 0)))
    return list(range(int(top or 0) + 1, int(top or 0) + 1 + count))
