"""`ConnectionPool`: at most N SQLite connections per process, lent out one call at a time.

A connection per thread was never closed, and anyio retires idle worker threads: the file
descriptors grew without bound. A cap on the total, not only on the idle ones, because SQLite
cannot close a connection's descriptors while other connections of the process hold locks on
the file (closing any would drop them all): it keeps them for later opens, so short-lived
connections under a burst would leave as many descriptors as the burst had threads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from types import TracebackType

from imagehost.storage.errors import CatalogError


class ConnectionPool:
    """Lends the most recently returned connection (LIFO keeps few of them warm), or opens a
    new one while fewer than `size` exist; beyond that a caller waits up to `timeout` seconds."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], size: int, timeout: float) -> None:
        self._connect = connect
        self.size = size
        self.timeout = timeout
        self._idle: list[sqlite3.Connection] = []
        self._opened = 0
        self._waiting = 0
        self._closed = False
        self._lock = threading.Lock()
        self._returned = threading.Condition(self._lock)

    def lease(self) -> Lease:
        return Lease(self)

    def add(self, connection: sqlite3.Connection) -> None:
        """Take in a connection opened elsewhere (it counts against `size`)."""
        with self._lock:
            self._opened += 1
            self._idle.append(connection)

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise CatalogError("the catalog is closed")
            if self._idle:
                return self._idle.pop()
            if self._opened >= self.size:
                self._waiting += 1
                try:
                    if not self._returned.wait_for(lambda: self._idle or self._opened < self.size, self.timeout):
                        raise CatalogError("the catalog is busy: no connection came free in time")
                finally:
                    self._waiting -= 1
                if self._idle:
                    return self._idle.pop()
            self._opened += 1
        try:
            return self._connect()
        except BaseException:
            self._forget_one()
            raise

    def give_back(self, connection: sqlite3.Connection) -> None:
        if connection.in_transaction:  # a call interrupted inside its transaction
            try:
                connection.execute("ROLLBACK")
            except sqlite3.Error:
                connection.close()
                self._forget_one()
                return
        with self._lock:
            if not self._closed:
                self._idle.append(connection)
                if self._waiting:
                    self._returned.notify()
                return
            self._opened -= 1
        connection.close()

    def _forget_one(self) -> None:
        with self._lock:
            self._opened -= 1
            if self._waiting:
                self._returned.notify()

    def close(self) -> None:
        """Close the idle connections now, and the lent ones when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._opened -= len(idle)
        for connection in idle:
            connection.close()


class Lease:
    """`with pool.lease() as connection:` (a class, not a generator: the list page is a hot path)."""

    __slots__ = ("_pool", "_connection")

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def __enter__(self) -> sqlite3.Connection:
        self._connection = self._pool.checkout()
        return self._connection

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._pool.give_back(self._connection)
