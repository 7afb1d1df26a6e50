"""SQLite storage with group commit.

One writer thread owns the only writing connection. Requests hand it operations and wait; it runs
every operation waiting at that moment in one transaction (each in its own savepoint, so one
failing operation does not undo the others), commits with a full fsync, and only then answers them
all. Durable throughput is then one fsync per batch, not per request, and nothing is acknowledged
before it is on disk. Reads use a second connection on the event loop's thread; WAL mode lets them
run while the writer commits.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from functools import cache
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    type TEXT NOT NULL,
    active INTEGER NOT NULL,
    visible INTEGER NOT NULL,
    tags TEXT NOT NULL,
    serie_number TEXT,
    rpm_input INTEGER,
    rpm_output INTEGER,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    last_input_ms INTEGER,
    last_output_ms INTEGER
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    name TEXT NOT NULL,
    permission TEXT NOT NULL,
    expire_ms INTEGER,
    serie_number TEXT,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_device ON tokens(device);
CREATE TABLE IF NOT EXISTS data (
    seq INTEGER PRIMARY KEY,
    device INTEGER NOT NULL,
    variable TEXT NOT NULL,
    value TEXT,
    num REAL,
    unit TEXT,
    grp TEXT NOT NULL,
    location TEXT,
    metadata TEXT,
    time_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS data_device_time ON data(device, time_ms);
CREATE INDEX IF NOT EXISTS data_device_variable_time ON data(device, variable, time_ms);
CREATE TABLE IF NOT EXISTS chunking (
    device TEXT PRIMARY KEY,
    period TEXT NOT NULL,
    retention INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    address TEXT PRIMARY KEY,
    content BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS params (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    sent INTEGER NOT NULL
);
"""

# A record's id is not stored: it is made from its creation second and its seq (the rowid), so a
# record costs one B-tree less to insert (records.record_id). Its device is the device's integer
# key, not its 24-character id, which keeps the indexes small: both cut the cost of a record.
DATA_COLUMNS = (
    "seq, device, variable, value, num, unit, grp, location, metadata, time_ms, created_ms"
)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # fsync at every commit: acknowledged means on disk
    conn.execute("PRAGMA busy_timeout=10000")
    # Index pages for a fleet's hot devices stay in memory (64 MiB), and the WAL is copied back
    # into the database every ~16 MiB rather than every 4 MiB: fewer, larger checkpoints.
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA wal_autocheckpoint=1000")
    return conn


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        # The database holds tokens: owner-only, and SQLite gives its -wal and -shm files the same.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
        setup = connect(path)
        setup.executescript(SCHEMA)
        setup.close()
        self.reader = connect(path)
        self._last_seq = self.reader.execute("SELECT COALESCE(MAX(seq), 0) FROM data").fetchone()[0]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._wake = threading.Condition()
        self._closing = False
        self._writer = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
        self.commits = 0
        self.operations = 0

    def next_seq(self) -> int:
        """The rowid for the next record; assigned on the event loop's thread, in order."""
        self._last_seq += 1
        return self._last_seq

    # -- the writer

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._writer.start()

    def insert(self, rows: list[tuple[Any, ...]]) -> asyncio.Future[None]:
        """Store data rows in the next group commit; all rows of a batch go in one executemany."""
        return self.write(_Insert(rows))

    def write(self, operation: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Run `operation(connection)` in the next group commit; the future resolves after it."""
        assert self._loop is not None, "Store.start() first"
        future: asyncio.Future[T] = self._loop.create_future()
        with self._wake:
            self._pending.append((operation, future))
            self._wake.notify()
        return future

    def close(self) -> None:
        """Commit everything already handed to the writer, then stop it."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._writer.is_alive():
            self._writer.join()
        self.reader.close()

    def _write_loop(self) -> None:
        conn = connect(self.path)
        try:
            while True:
                with self._wake:
                    while not self._pending and not self._closing:
                        self._wake.wait()
                    batch, self._pending = self._pending, []
                if not batch:
                    return  # closing, and nothing left to commit
                self._commit(conn, batch)
        finally:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list) -> None:
        """Commit a batch in one transaction, answering each operation once it is durable.

        Operations are validated before they get here, so a failing one is rare. The batch runs
        without savepoints first; only if an operation raises is the transaction rolled back and
        the batch replayed with a savepoint around each operation, so the others still commit.
        """
        try:
            outcomes = self._run_batch(conn, batch, isolate=False)
        except _OperationFailed:
            outcomes = self._run_batch(conn, batch, isolate=True)
        except Exception as error:  # the commit itself failed: nothing in the batch is stored
            outcomes = [(future, None, error) for _, future in batch]
        self.commits += 1
        self.operations += len(batch)
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_settle, outcomes)

    def _run_batch(self, conn: sqlite3.Connection, batch: list, *, isolate: bool) -> list:
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            if not isolate:
                inserts = [op.rows for op, _ in batch if isinstance(op, _Insert)]
                if inserts:
                    _Insert(chain.from_iterable(inserts))(conn)
                outcomes += [
                    (future, None, None) for op, future in batch if isinstance(op, _Insert)
                ]
                batch = [(op, future) for op, future in batch if not isinstance(op, _Insert)]
            for operation, future in batch:
                if isolate:
                    conn.execute("SAVEPOINT op")
                try:
                    result = operation(conn)
                except Exception as error:
                    if not isolate:
                        raise _OperationFailed from error
                    conn.execute("ROLLBACK TO op")
                    if isinstance(error, _OperationFailed) and error.__cause__ is not None:
                        error = error.__cause__
                    outcomes.append((future, None, error))
                else:
                    outcomes.append((future, result, None))
                if isolate:
                    conn.execute("RELEASE op")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes

    # -- reads

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return self.reader.execute(sql, tuple(params)).fetchall()

    def one(self, sql: str, params: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        return self.reader.execute(sql, tuple(params)).fetchone()

    def meta(self) -> dict[str, str]:
        return dict(self.rows("SELECT key, value FROM meta"))


class _Insert:
    """Rows for the data table, as one operation.

    They go in as multi-row INSERT statements of up to 64 rows: that binds each chunk in one call
    and steps it once, instead of once per row, which costs about a third less per record and lets
    the event loop's thread have the GIL back far less often.
    """

    __slots__ = ("rows",)
    CHUNK = 64

    def __init__(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self.rows = rows

    def __call__(self, conn: sqlite3.Connection) -> None:
        rows = list(self.rows)
        try:
            for start in range(0, len(rows), self.CHUNK):
                chunk = rows[start : start + self.CHUNK]
                conn.execute(_insert_sql(len(chunk)), list(chain.from_iterable(chunk)))
        except Exception as error:
            raise _OperationFailed from error


@cache
def _insert_sql(rows: int) -> str:
    one = "(" + ",".join("?" * len(DATA_COLUMNS.split(","))) + ")"
    return f"INSERT INTO data ({DATA_COLUMNS}) VALUES {','.join([one] * rows)}"


class _OperationFailed(Exception):
    """An operation raised in an optimistic batch: replay the batch with savepoints."""


def _settle(outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in outcomes:
        if future.cancelled():
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
