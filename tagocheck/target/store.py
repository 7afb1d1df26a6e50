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
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
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
    id TEXT NOT NULL UNIQUE,
    device TEXT NOT NULL,
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
CREATE TABLE IF NOT EXISTS params (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    sent INTEGER NOT NULL
);
"""

DATA_COLUMNS = (
    "id, device, variable, value, num, unit, grp, location, metadata, time_ms, created_ms"
)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # fsync at every commit: acknowledged means on disk
    conn.execute("PRAGMA busy_timeout=10000")
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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._wake = threading.Condition()
        self._closing = False
        self._writer = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
        self.commits = 0
        self.operations = 0

    # -- the writer

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._writer.start()

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
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for operation, future in batch:
                conn.execute("SAVEPOINT op")
                try:
                    result = operation(conn)
                except Exception as error:
                    conn.execute("ROLLBACK TO op")
                    outcomes.append((future, None, error))
                else:
                    outcomes.append((future, result, None))
                conn.execute("RELEASE op")
            conn.execute("COMMIT")
        except Exception as error:  # the commit itself failed: nothing in the batch is stored
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(future, None, error) for _, future in batch]
        self.commits += 1
        self.operations += len(batch)
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_settle, outcomes)

    # -- reads

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return self.reader.execute(sql, tuple(params)).fetchall()

    def one(self, sql: str, params: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        return self.reader.execute(sql, tuple(params)).fetchone()

    def meta(self) -> dict[str, str]:
        return dict(self.rows("SELECT key, value FROM meta"))


def _settle(outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in outcomes:
        if future.cancelled():
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
