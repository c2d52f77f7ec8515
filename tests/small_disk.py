"""A real, small file system to fill up: a tmpfs mounted for one test (needs root and `mount`)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import IN_CI, require_tool


@contextmanager
def small_disk(where: Path, size_mib: int = 8) -> Iterator[Path]:
    """Mount a `size_mib` tmpfs at `where` for the block; fail in CI, skip elsewhere, if impossible."""
    mount = require_tool("mount")
    where.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0755", "tmpfs", str(where)],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        message = f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield where
    finally:
        subprocess.run([require_tool("umount"), "-l", str(where)], check=True)


def fill(disk: Path, leave_bytes: int = 0) -> Path:
    """Write a filler file until the disk is full, then give back `leave_bytes` (in whole pages)."""
    filler = disk / "filler"
    chunk = b"\xff" * (64 * 1024)
    handle = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while True:
            os.write(handle, chunk)
    except OSError as error:
        assert error.errno == errno.ENOSPC, error
    finally:
        os.close(handle)
    if leave_bytes:
        os.truncate(filler, max(0, filler.stat().st_size - leave_bytes))
    return filler


def free_bytes(disk: Path) -> int:
    stats = os.statvfs(disk)
    return stats.f_bavail * stats.f_frsize


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """`path` made immutable (`chattr +i`) for the block: even root's writes fail. Fails in CI
    where that is not possible, skips elsewhere."""
    chattr = require_tool("chattr")
    result = subprocess.run([chattr, "+i", str(path)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = f"chattr +i is not possible here: {result.stderr.strip()}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)
