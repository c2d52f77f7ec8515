"""Two `imagehost serve` processes on one images folder, uploads and deletes racing across them."""

from __future__ import annotations

import io
import json
import random
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from PIL import Image

from tests.e2e._service import (
    FIXTURES,
    UPLOAD_RESULT_FIELDS,
    data_of,
    partial_uploads,
    stored_name,
    stored_names,
)
from tests.support import RunningServer, run_serve

SEEDED = 20
UPLOADS = 50
DELETES = 20
THREADS = 8
REQUEST_TIMEOUT = 30.0
RUN_TIMEOUT = 60.0

UPLOAD_IMAGE = (
    f"mutation($file: Upload!) {{ uploadImage(file: $file) {{ {UPLOAD_RESULT_FIELDS} }} }}"
)
DELETE_IMAGE = "mutation($id: ID!) { deleteImage(id: $id) { __typename } }"


@dataclass(frozen=True)
class Outcome:
    kind: str  # "upload" or "delete"
    payload: bytes  # the bytes sent (uploads)
    result: (
        dict[str, Any] | None
    )  # the Image / UploadError / DeleteResult; None when the request failed
    failure: str | None = None


def upload(server: RunningServer, filename: str, payload: bytes) -> Outcome:
    """One uploadImage over plain HTTP; any failure is reported, not raised."""
    operations = json.dumps({"query": UPLOAD_IMAGE, "variables": {"file": None}})
    try:
        response = requests.post(
            server.url + "/graphql",
            data={"operations": operations, "map": json.dumps({"0": ["variables.file"]})},
            files={"0": (filename, payload, "application/octet-stream")},
            headers=server.auth,
            timeout=REQUEST_TIMEOUT,
        )
        body = response.json()
    except (requests.RequestException, ValueError) as error:
        return Outcome("upload", payload, None, f"{type(error).__name__}: {error}")
    if response.status_code != 200 or "errors" in body:
        return Outcome("upload", payload, None, f"{response.status_code}: {body}")
    return Outcome("upload", payload, body["data"]["uploadImage"])


def is_image(outcome: Outcome) -> bool:
    return outcome.result is not None and outcome.result["__typename"] == "Image"


def delete(server: RunningServer, image_id: str) -> Outcome:
    try:
        response = requests.post(
            server.url + "/graphql",
            json={"query": DELETE_IMAGE, "variables": {"id": image_id}},
            headers=server.auth,
            timeout=REQUEST_TIMEOUT,
        )
        body = response.json()
    except (requests.RequestException, ValueError) as error:
        return Outcome("delete", b"", None, f"{type(error).__name__}: {error}")
    if response.status_code != 200 or "errors" in body:
        return Outcome("delete", b"", None, f"{response.status_code}: {body}")
    return Outcome("delete", b"", {"id": image_id, **body["data"]["deleteImage"]})


def listed_images(server: RunningServer, page_size: int = 7) -> tuple[list[dict[str, Any]], int]:
    """Every catalog row, read page by page, and the totalCount the last page reported."""
    images: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(100):
        page = data_of(
            server.url,
            "query($first: Int!, $after: String) { images(first: $first, after: $after) {"
            " totalCount edges { node { id url thumbnailUrl size } }"
            " pageInfo { hasNextPage endCursor } } }",
            {"first": page_size, "after": after},
        )["images"]
        images.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return images, int(page["totalCount"])
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("paging did not end")


def without_metadata(data: bytes) -> bytes:
    """The image re-saved by Pillow, so with no metadata for the upload pipeline to strip (issue
    14): this test checks that what is stored is exactly what was sent."""
    out = io.BytesIO()
    with Image.open(io.BytesIO(data)) as image:
        image.info.clear()  # Pillow would write the JPEG comment back
        image.save(out, image.format)
    return out.getvalue()


def file_names(image: dict[str, Any]) -> set[str]:
    """The names of an image's files: its bytes and its thumbnail."""
    return {stored_name(image), str(image["thumbnailUrl"]).rsplit("/", 1)[-1]}


def test_two_servers_one_folder(tmp_path: Path) -> None:
    images_dir = tmp_path / "shared-images"
    # photo_rocket.jpg (COM) and alpha_earth.png (tIME, iTXt) carry metadata; the others do not.
    stripped = {"photo_rocket.jpg", "alpha_earth.png"}
    fixtures = [
        (fixture.name, without_metadata(fixture.data) if fixture.name in stripped else fixture.data)
        for fixture in FIXTURES
    ]
    with (
        run_serve(tmp_path, images_dir=images_dir) as first,
        run_serve(tmp_path, images_dir=images_dir) as second,
    ):
        servers = (first, second)
        seeded = [
            upload(servers[index % 2], f"seed-{index}.img", fixtures[index % 6][1])
            for index in range(SEEDED)
        ]
        assert all(is_image(outcome) for outcome in seeded), seeded
        seeded_ids = [outcome.result["id"] for outcome in seeded if outcome.result]

        tasks: list[tuple[Any, ...]] = [
            (
                upload,
                servers[index % 2],
                f"up-{index}-{fixtures[index % 6][0]}",
                fixtures[index % 6][1],
            )
            for index in range(UPLOADS)
        ] + [(delete, servers[index % 2], seeded_ids[index]) for index in range(DELETES)]
        random.Random(2).shuffle(tasks)
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            futures = [pool.submit(task[0], *task[1:]) for task in tasks]
            outcomes = [future.result() for future in as_completed(futures, timeout=RUN_TIMEOUT)]

        uploads = [outcome for outcome in outcomes if outcome.kind == "upload"]
        deletes = [outcome for outcome in outcomes if outcome.kind == "delete"]
        succeeded = [outcome for outcome in uploads if is_image(outcome)]
        failed = [outcome for outcome in uploads if not is_image(outcome)]
        stored = [outcome.result for outcome in succeeded if outcome.result]

        # Every upload is either fully present or was reported failed.
        assert len(uploads) == UPLOADS
        for outcome in succeeded:
            image = outcome.result or {}
            assert (images_dir / stored_name(image)).read_bytes() == outcome.payload
            for server in servers:
                found = data_of(
                    server.url,
                    "query($id: ID!) { image(id: $id) { id size } }",
                    {"id": image["id"]},
                )
                assert found["image"] == {"id": image["id"], "size": len(outcome.payload)}
        # Nothing in this run should fail: a shared SQLite catalog must take 8 writers at once.
        assert failed == [], [outcome.failure or outcome.result for outcome in failed]

        # Every delete removed both the row and the bytes.
        assert len(deletes) == DELETES
        assert (
            sorted(str(o.result and o.result["__typename"]) for o in deletes)
            == ["DeletedImage"] * DELETES
        ), deletes
        deleted_ids = {o.result["id"] for o in deletes if o.result}
        for server in servers:
            for image_id in deleted_ids:
                assert (
                    data_of(
                        server.url, "query($id: ID!) { image(id: $id) { id } }", {"id": image_id}
                    )["image"]
                    is None
                )

        # The folder and the catalog agree: no orphan file, no dangling row, no partial write.
        listed, total = listed_images(first)
        listed_ids = [image["id"] for image in listed]
        assert len(set(listed_ids)) == len(listed_ids)
        assert total == len(listed) == SEEDED + len(stored) - len(deleted_ids)
        assert listed_images(second)[1] == total
        assert set(listed_ids) == (set(seeded_ids) - deleted_ids) | {
            image["id"] for image in stored
        }
        assert stored_names(images_dir) == {name for image in listed for name in file_names(image)}
        assert partial_uploads(images_dir) == []
