"""`imagehost users …` and `imagehost tokens …` on the catalog of a running server."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from imagehost.storage import NewImage, open_image_store
from tests.accounts_support import ask, bearer, browser_session, image_ids, upload
from tests.imagedata import drawn_png
from tests.support import BIN, run_serve, server_env


def imagehost(server_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "imagehost"), *args], input=stdin, capture_output=True, text=True, timeout=60,
                          env=server_env(server_dir / "images", server_dir / "cli-logs"))


def test_accounts_and_tokens_from_the_command_line_while_serving(tmp_path: Path) -> None:
    with run_serve(tmp_path) as server:
        added = imagehost(tmp_path, "users", "add", "Grace", "--password-stdin", stdin="grace-password\n")
        assert added.returncode == 0, added.stderr
        grace_session = browser_session(server.url, "grace", "grace-password")  # names are lower-cased
        created = imagehost(tmp_path, "tokens", "create", "grace", "--label", "screenshots")
        assert created.returncode == 0, created.stderr
        secret = created.stdout.strip().splitlines()[-1]  # the secret alone on the last line
        grace = bearer(secret)
        assert upload(server.url, drawn_png(), grace).data["uploadImage"]["__typename"] == "Image"

        listed = imagehost(tmp_path, "users", "list").stdout.splitlines()
        assert listed[0].split() == ["NAME", "ROLE", "IMAGES", "BYTES", "QUOTA", "CREATED"]
        row = next(line.split() for line in listed if line.startswith("grace "))
        assert row[1:3] == ["member", "1"] and int(row[3]) > 0
        tokens = imagehost(tmp_path, "tokens", "list", "grace").stdout
        token_id = next(line.split()[0] for line in tokens.splitlines() if "screenshots" in line)
        assert secret not in tokens

        assert imagehost(tmp_path, "users", "add", "grace", "--password-stdin", stdin="another-pass\n").returncode == 1
        assert imagehost(tmp_path, "users", "add", "heidi", "--password-stdin", stdin="short\n").returncode == 1

        passwd = imagehost(tmp_path, "users", "passwd", "grace", "--password-stdin", stdin="grace-new-password\n")
        assert passwd.returncode == 0, passwd.stderr
        assert ask(server.url, "{ viewer { username } }", None, grace_session).data == {"viewer": None}  # ended

        assert imagehost(tmp_path, "tokens", "revoke", token_id).returncode == 0
        assert ask(server.url, "{ viewer { username } }", None, grace).status == 401  # at once
        assert imagehost(tmp_path, "tokens", "revoke", token_id).returncode == 1

        assert imagehost(tmp_path, "users", "remove", "admin").returncode == 1  # the only admin
        removed = imagehost(tmp_path, "users", "remove", "grace")
        assert removed.returncode == 0 and "1 images" in removed.stdout
        assert image_ids(server.url, server.auth, everyone=True) == set()


def test_images_from_before_accounts_belong_to_the_first_admin(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    store = open_image_store(images_dir)  # an install that has images and no account yet
    data = drawn_png()
    record = store.add_sync(NewImage(filename="old.png", content_type="image/png", size=len(data), width=8, height=6),
                            io.BytesIO(data))
    store.close()
    assert record.owner_id is None
    with run_serve(tmp_path, images_dir=images_dir) as server:
        assert image_ids(server.url, server.auth) == {record.id}
        count = ask(server.url, "{ viewer { imageCount storedBytes } }", None, server.auth).data["viewer"]
        assert count == {"imageCount": 1, "storedBytes": len(data)}
