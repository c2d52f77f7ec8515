"""Faults sent for real against `imagehost serve`: the catalog deleted, replaced or made immutable
while running, a crash between bytes and row, a full disk and the free-space floor.

Each asserts the honest answer (`/healthz` 503 with the reason, typed refusals), that nothing
was stored, that another client was served meanwhile, and the way back.
"""

from __future__ import annotations

import io
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from imagehost.storage import NewImage, catalog_path, open_image_store
from imagehost.storage.keys import thumbnail_key
from tests.crash import crash_mid_upload
from tests.imagedata import drawn_png
from tests.small_disk import fill, immutable, small_disk
from tests.stack.stack_helpers import Reply, png_bytes, post_json, request, upload
from tests.support import BIN, free_port, run_serve, server_env

MIB = 1024 * 1024
THUMBNAIL_TYPE = "image/jpeg"
"""What the opaque PNGs uploaded here get as their thumbnail."""
# Everyone's: rows written outside a request (a crashed upload's, a repair's) have no owner.
LIST = "{ images(first: 10, all: true) { totalCount edges { node { id filename contentType size width height url thumbnailUrl } } } }"


def image_files(images_dir: Path) -> list[str]:
    return sorted(path.name for path in images_dir.iterdir() if path.is_file())


def keys_of(image: dict[str, Any]) -> list[str]:
    """Every key an uploaded image is stored as: its display bytes (its url) and its thumbnail."""
    return sorted([image["url"].rsplit("/", 1)[1], thumbnail_key(image["id"], THUMBNAIL_TYPE)])


def work_files(images_dir: Path) -> list[str]:
    return sorted(path.name for path in (images_dir / ".imagehost" / "tmp").iterdir())


def stored(reply: Reply) -> dict[str, Any]:
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.json()["data"]["uploadImage"]
    assert result["__typename"] == "Image", result
    return result


def refused_with(reply: Reply) -> str:
    """The code of a GraphQL-shaped refusal (a JSON body, never a plain-text 500)."""
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/json"), reply.body
    body = reply.json()
    assert body["data"] is None and body["errors"][0]["message"], body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


def upload_error(reply: Reply) -> str:
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/json"), reply.body
    result = reply.json()["data"]["uploadImage"]
    assert result["__typename"] == "UploadError", result
    code: str = result["code"]
    return code


def health(url: str) -> Reply:
    return request(url + "/healthz", timeout=5)


def wait_for_health(url: str, status: int, timeout: float = 5.0) -> Reply:
    deadline = time.monotonic() + timeout
    while True:
        reply = health(url)
        if reply.status == status or time.monotonic() > deadline:
            return reply
        time.sleep(0.1)


def imagehost(tmp_path: Path, images_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "imagehost"), *args], env=server_env(images_dir, tmp_path / "cli-logs"),
        capture_output=True, text=True, timeout=60, check=False,
    )


def assert_start_refused(tmp_path: Path, images_dir: Path, says: str) -> str:
    result = imagehost(tmp_path, images_dir, "serve", "--port", str(free_port()))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("imagehost: ") and says in lines[0] and "`imagehost check --repair`" in lines[0]
    return lines[0]


def assert_served_after_repair(tmp_path: Path, images_dir: Path, original: dict[str, Any], data: bytes) -> None:
    check = imagehost(tmp_path, images_dir, "check")
    assert check.returncode == 0 and "clean" in check.stdout, check.stdout
    with run_serve(tmp_path, images_dir=images_dir) as server:
        listing = post_json(server.url, LIST).json()["data"]["images"]
        assert listing["totalCount"] == 1
        node = listing["edges"][0]["node"]
        assert node["id"] == original["id"] and node["filename"] == f"recovered-{original['id']}.png"
        assert (node["contentType"], node["size"], node["width"], node["height"]) == ("image/png", len(data), 16, 16)
        assert request(node["url"]).body == data
        assert node["thumbnailUrl"].rsplit("/", 1)[1] == thumbnail_key(original["id"], THUMBNAIL_TYPE)  # found beside it
        assert request(node["thumbnailUrl"]).headers["Content-Type"] == THUMBNAIL_TYPE


def test_a_catalog_deleted_while_running_is_reported_refused_and_repaired(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    data = png_bytes(16, 16)
    with run_serve(tmp_path, images_dir=images_dir) as server:
        original = stored(upload(server.url, data))
        catalog_path(images_dir).unlink()

        reply = health(server.url)
        assert reply.status == 503 and reply.json()["status"] == "unavailable"
        assert "deleted while the server ran" in reply.json()["reason"]
        assert refused_with(upload(server.url, png_bytes(20, 20))) == "STORAGE_UNAVAILABLE"
        deleting = post_json(server.url, f'mutation {{ deleteImage(id: "{original["id"]}") {{ __typename }} }}')
        assert refused_with(deleting) == "STORAGE_UNAVAILABLE"
        assert image_files(images_dir) == keys_of(original) and work_files(images_dir) == []
        assert not catalog_path(images_dir).exists()  # no empty catalog was made behind our back
        assert request(original["url"]).body == data  # another client still gets the image

    line = assert_start_refused(tmp_path, images_dir, "holds 1 images but its catalog")
    assert "is missing: restore it from a backup" in line
    check = imagehost(tmp_path, images_dir, "check")
    assert check.returncode == 1 and "is missing" in check.stdout
    assert image_files(images_dir) == keys_of(original)  # the check changed nothing

    repair = imagehost(tmp_path, images_dir, "check", "--repair")
    assert repair.returncode == 0, repair.stdout + repair.stderr
    # The image's bytes and its thumbnail have no row; the rebuilt row names both.
    assert "bytes without rows:           2" in repair.stdout and "1 rows rebuilt from the bytes" in repair.stdout
    assert_served_after_repair(tmp_path, images_dir, original, data)


def test_a_catalog_replaced_while_running_is_reported_refused_and_adopted(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    data = png_bytes(16, 16)
    other = open_image_store(tmp_path / "other")  # another install's catalog, with one row
    other.add_sync(NewImage("theirs.png", "image/png", len(drawn_png()), 8, 6), io.BytesIO(drawn_png()))
    other.close()
    with run_serve(tmp_path, images_dir=images_dir) as server:
        original = stored(upload(server.url, data))
        os.replace(catalog_path(tmp_path / "other"), catalog_path(images_dir))

        reply = health(server.url)
        assert reply.status == 503 and "replaced while the server ran" in reply.json()["reason"]
        assert refused_with(upload(server.url, png_bytes(20, 20))) == "STORAGE_UNAVAILABLE"
        assert image_files(images_dir) == keys_of(original) and work_files(images_dir) == []
        assert request(original["url"]).body == data

    assert_start_refused(tmp_path, images_dir, "is not the one the images in")
    repair = imagehost(tmp_path, images_dir, "check", "--repair")
    assert repair.returncode == 0, repair.stdout
    assert "1 rows rebuilt from the bytes" in repair.stdout and "1 rows without bytes removed" in repair.stdout
    assert_served_after_repair(tmp_path, images_dir, original, data)


def test_an_immutable_catalog_is_reported_and_refused_until_writable_again(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    with run_serve(tmp_path, images_dir=images_dir) as server:
        original = stored(upload(server.url, png_bytes(16, 16)))
        with immutable(catalog_path(images_dir)):
            reply = health(server.url)
            assert reply.status == 503 and "not writable" in reply.json()["reason"]
            assert refused_with(upload(server.url, png_bytes(20, 20))) == "STORAGE_UNAVAILABLE"
            assert image_files(images_dir) == keys_of(original) and work_files(images_dir) == []
            assert post_json(server.url, LIST).json()["data"]["images"]["totalCount"] == 1  # reads go on
        assert health(server.url).status == 200  # writable again: healthy again, no restart
        stored(upload(server.url, png_bytes(20, 20)))
        assert request(original["url"]).status == 200


def test_after_a_crash_only_uploads_that_provably_never_committed_are_swept(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    with run_serve(tmp_path, images_dir=images_dir) as server:
        original = stored(upload(server.url, png_bytes(16, 16)))
    uncommitted = crash_mid_upload(images_dir, "after_bytes", letter="U")
    committed = crash_mid_upload(images_dir, "after_row", letter="K")
    unmarked = "N" * 22 + ".png"  # bytes without row or marker: what a lost catalog row looks like
    (images_dir / unmarked).write_bytes(drawn_png())

    with run_serve(tmp_path, images_dir=images_dir) as server:
        deadline = time.monotonic() + 10
        while uncommitted in image_files(images_dir) and time.monotonic() < deadline:
            time.sleep(0.05)  # the sweep runs beside the first requests
        kept = {*keys_of(original), committed, unmarked}
        assert set(image_files(images_dir)) == kept and work_files(images_dir) == []
        assert post_json(server.url, LIST).json()["data"]["images"]["totalCount"] == 2
        log = (server.log_dir / "app.log").read_text()
        assert "1 uploads that never committed" in log and "1 image files have no catalog row" in log

    check = imagehost(tmp_path, images_dir, "check")
    assert check.returncode == 1 and f"bytes without rows:           1  ({unmarked})" in check.stdout


def test_a_full_disk_is_storage_full_per_file_and_recovers(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", size_mib=8) as disk, run_serve(
        tmp_path, images_dir=disk / "images", min_free_bytes="0"
    ) as server:
        images_dir = disk / "images"
        original = stored(upload(server.url, png_bytes(16, 16)))
        filler = fill(disk)
        for size in (200 * 1024, 2 * MIB):  # kept in memory, and spooled to disk by the parser
            started = time.monotonic()
            assert upload_error(upload(server.url, png_bytes(32, 32, pad_to=size))) == "STORAGE_FULL"
            assert time.monotonic() - started < 5
        assert image_files(images_dir) == keys_of(original) and work_files(images_dir) == []
        reply = health(server.url)
        assert reply.status == 503 and reply.json()["code"] == "STORAGE_FULL"
        assert request(original["url"]).status == 200  # another client is still served

        filler.unlink()
        assert wait_for_health(server.url, 200).status == 200
        stored(upload(server.url, png_bytes(32, 32, pad_to=2 * MIB)))


def test_below_the_free_space_floor_uploads_are_refused_before_storing_and_it_recovers(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", size_mib=8) as disk, run_serve(
        tmp_path, images_dir=disk / "images", min_free_bytes=str(6 * MIB)
    ) as server:
        images_dir = disk / "images"
        assert health(server.url).status == 200
        (disk / "filler").write_bytes(b"\xff" * 3 * MIB)
        reply = wait_for_health(server.url, 503)
        assert reply.status == 503 and "free space below IMAGEHOST_MIN_FREE_BYTES" in reply.json()["reason"]
        for size in (200 * 1024, 2 * MIB):
            assert upload_error(upload(server.url, png_bytes(32, 32, pad_to=size))) == "STORAGE_FULL"
        assert image_files(images_dir) == [] and work_files(images_dir) == []
        assert post_json(server.url, LIST).json()["data"]["images"]["totalCount"] == 0  # others are served

        (disk / "filler").unlink()
        assert wait_for_health(server.url, 200).status == 200
        image = stored(upload(server.url, png_bytes(32, 32, pad_to=2 * MIB)))
        assert image_files(images_dir) == keys_of(image)


def test_the_stack_stops_start_up_with_the_workers_line_when_the_catalog_is_missing(tmp_path: Path) -> None:
    from tests.stack.stack_helpers import nginx_binary

    nginx_binary()
    images_dir = tmp_path / "images"
    store = open_image_store(images_dir)
    store.add_sync(NewImage("a.png", "image/png", len(drawn_png()), 8, 6), io.BytesIO(drawn_png()))
    store.close()
    catalog_path(images_dir).unlink()
    env = server_env(images_dir, tmp_path / "logs")
    env["PATH"] = env.get("PATH", "") + os.pathsep + "/usr/sbin"
    result = subprocess.run(
        [str(BIN / "imagehost"), "stack", "--port", str(free_port()), "--workers", "2"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode != 0
    assert "holds 1 images but its catalog" in result.stderr and "`imagehost check --repair`" in result.stderr
    assert "exited during start-up" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert len(image_files(images_dir)) == 1 and not catalog_path(images_dir).exists()


def test_check_and_repair_work_while_the_server_runs(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    with run_serve(tmp_path, images_dir=images_dir) as server:
        kept = stored(upload(server.url, png_bytes(16, 16)))
        lost = stored(upload(server.url, png_bytes(20, 20)))
        (images_dir / lost["url"].rsplit("/", 1)[1]).unlink()  # a row whose bytes are gone
        orphan = "Q" * 22 + ".png"
        (images_dir / orphan).write_bytes(png_bytes(24, 12))  # bytes no row names
        (images_dir / ("R" * 22 + ".png")).write_bytes(b"not a png")  # and bytes that are no image

        check = imagehost(tmp_path, images_dir, "check")
        assert check.returncode == 1, check.stdout
        assert "rows without bytes:           1" in check.stdout and "bytes without rows:           2" in check.stdout
        repair = imagehost(tmp_path, images_dir, "check", "--repair")
        assert "1 rows rebuilt from the bytes" in repair.stdout and "1 rows without bytes removed" in repair.stdout
        assert repair.returncode == 1 and "left alone: 1 files" in repair.stdout  # the non-image is reported, kept
        assert (images_dir / ("R" * 22 + ".png")).exists()

        assert health(server.url).status == 200
        listing = post_json(server.url, LIST).json()["data"]["images"]
        nodes = {node["id"]: node for node in (edge["node"] for edge in listing["edges"])}
        assert set(nodes) == {kept["id"], "Q" * 22} and listing["totalCount"] == 2
        assert (nodes["Q" * 22]["width"], nodes["Q" * 22]["height"]) == (24, 12)
        assert nodes["Q" * 22]["filename"] == f"recovered-{orphan}"
        stored(upload(server.url, png_bytes(8, 8)))  # the server goes on writing the same catalog
