"""`imagehost serve` serves every key of an image (display bytes, thumbnail, HEIC original) with
the same headers, answers `thumbnailUrl`, and 404s every other name."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from imagehost.storage import catalog_path, open_image_store

from tests.renditions import (
    IMAGE_QUERY,
    assert_every_key_is_served_alike,
    assert_other_names_are_not_found,
    store_photo,
)
from tests.stack.stack_helpers import post_json, request
from tests.support import BIN, run_serve, server_env


def test_serve_serves_every_key_and_names_the_thumbnail(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    record, stored = store_photo(images_dir)
    with run_serve(tmp_path, images_dir=images_dir) as server:
        image = post_json(server.url, IMAGE_QUERY % json.dumps(record.id)).json()["data"]["image"]
        assert image == {
            "url": f"{server.url}/images/{record.id}.jpg",
            "thumbnailUrl": f"{server.url}/images/{record.id}.thumb.jpg",
            "contentType": "image/jpeg",
            "size": len(stored[record.key]),
        }
        assert_every_key_is_served_alike(server.url, stored)
        assert_other_names_are_not_found(server.url, record)

        deleted = post_json(server.url, 'mutation { deleteImage(id: %s) { __typename } }' % json.dumps(record.id))
        assert deleted.json()["data"]["deleteImage"]["__typename"] == "DeletedImage", deleted.body
        assert [path.name for path in images_dir.iterdir() if path.is_file()] == []  # every key went
        assert post_json(server.url, "{ images { totalCount } }").json()["data"]["images"]["totalCount"] == 0
        assert [request(f"{server.url}/images/{key}").status for key in stored] == [404, 404, 404]


def test_serve_still_serves_an_image_stored_with_a_webp_thumbnail(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    record, stored = store_photo(images_dir, "image/webp")  # as every image was before JPEG thumbnails
    with run_serve(tmp_path, images_dir=images_dir) as server:
        image = post_json(server.url, IMAGE_QUERY % json.dumps(record.id)).json()["data"]["image"]
        assert image["thumbnailUrl"] == f"{server.url}/images/{record.id}.thumb.webp"
        assert_every_key_is_served_alike(server.url, stored)
        assert_other_names_are_not_found(server.url, record)


def test_check_repair_rebuilds_a_row_with_its_renditions_and_leaves_orphans(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    record, stored = store_photo(images_dir)
    old, old_stored = store_photo(images_dir, "image/webp")
    catalog_path(images_dir).unlink()  # the rows are lost; every key of both images is a stray now
    orphan = f"{'Q' * 22}.thumb.jpg"  # a thumbnail of no image: nothing to rebuild, nothing proves it unwanted
    (images_dir / orphan).write_bytes(b"jpeg")

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "imagehost"), "check", *args], env=server_env(images_dir, tmp_path / "logs"),
                              capture_output=True, text=True, timeout=60, check=False)

    repair = check("--repair")
    assert repair.returncode == 1, repair.stdout + repair.stderr
    assert "bytes without rows:           7" in repair.stdout and "2 rows rebuilt from the bytes" in repair.stdout
    assert f"left alone: 1 thumbnails or originals without their image's row  ({orphan})" in repair.stdout
    assert sorted(path.name for path in images_dir.iterdir() if path.is_file()) == sorted([*stored, *old_stored, orphan])

    store = open_image_store(images_dir)
    rebuilt, rebuilt_old = store.catalog.get(record.id), store.catalog.get(old.id)
    store.close()
    assert rebuilt is not None and rebuilt.keys == record.keys  # display JPEG, thumbnail and HEIC original
    rebuilt_types = (rebuilt.content_type, rebuilt.thumbnail_type, rebuilt.original_type)
    assert rebuilt_types == ("image/jpeg", "image/jpeg", "image/heic")
    assert rebuilt_old is not None and rebuilt_old.keys == old.keys and rebuilt_old.thumbnail_type == "image/webp"

    (images_dir / orphan).unlink()
    (images_dir / record.thumbnail_key).unlink()  # a rendition lost: the row stops naming it
    assert "renditions gone:              1" in check().stdout
    assert check("--repair").returncode == 0
    assert "clean" in check().stdout
    store = open_image_store(images_dir)
    mended = store.catalog.get(record.id)
    store.close()
    assert mended is not None and mended.thumbnail_type is None and mended.original_type == "image/heic"
