"""`ConnectionPool`: never more than its size, waiters served in turn, nothing handed back dirty."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from imagehost.storage import CatalogError
from imagehost.storage.connection_pool import ConnectionPool


def counting_pool(path: Path, size: int, timeout: float = 5.0) -> tuple[ConnectionPool, list[sqlite3.Connection]]:
    opened: list[sqlite3.Connection] = []

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        opened.append(connection)
        return connection

    return ConnectionPool(connect, size, timeout), opened


def test_a_caller_past_the_size_waits_for_a_connection_to_come_back(tmp_path: Path) -> None:
    pool, opened = counting_pool(tmp_path / "db.sqlite3", size=2)
    first, second = pool.checkout(), pool.checkout()
    got: list[sqlite3.Connection] = []
    waiter = threading.Thread(target=lambda: got.append(pool.checkout()))
    waiter.start()
    time.sleep(0.1)
    assert got == [] and len(opened) == 2  # waiting, not opening a third
    pool.give_back(second)
    waiter.join(timeout=5)
    assert got == [second] and len(opened) == 2
    pool.give_back(first)
    pool.give_back(second)
    pool.close()


def test_a_caller_that_waits_too_long_gets_a_catalog_error(tmp_path: Path) -> None:
    pool, _ = counting_pool(tmp_path / "db.sqlite3", size=1, timeout=0.1)
    held = pool.checkout()
    started = time.monotonic()
    with pytest.raises(CatalogError, match="busy"):
        pool.checkout()
    assert 0.09 < time.monotonic() - started < 2
    pool.give_back(held)
    pool.close()


def test_a_connection_given_back_inside_a_transaction_is_rolled_back(tmp_path: Path) -> None:
    pool, opened = counting_pool(tmp_path / "db.sqlite3", size=1)
    with pool.lease() as connection:
        connection.execute("CREATE TABLE t (x)")
    with pytest.raises(RuntimeError), pool.lease() as connection:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("interrupted")
    with pool.lease() as connection:
        assert not connection.in_transaction and connection.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    assert len(opened) == 1
    pool.close()
    with pytest.raises(CatalogError, match="closed"):
        pool.checkout()
