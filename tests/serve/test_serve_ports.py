"""A port number out of range is one clear line and a non-zero exit, for both commands (99999
was a traceback from `bind`, 0 a server on a port nobody was told)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import BIN, server_env


@pytest.mark.parametrize(("command", "port"), [("serve", "99999"), ("serve", "0"), ("stack", "0"), ("stack", "-1"),
                                               ("stack", "65536")])
def test_a_port_out_of_range_is_one_line(tmp_path: Path, command: str, port: str) -> None:
    result = subprocess.run(
        [str(BIN / "imagehost"), command, "--port", port],
        env=server_env(tmp_path / "images", tmp_path / "logs"), capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"imagehost: --port must be a port number from 1 to 65535, not {port}"
    ], result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "images").exists()  # refused before anything was opened
