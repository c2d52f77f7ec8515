"""The GraphQL API through the real ASGI app: contract, uploads, paging, deletes."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from ipaddress import ip_network
from graphql import build_schema as parse_sdl
from graphql import find_breaking_changes
from PIL import Image
from starlette.testclient import TestClient

from imagehost.schema import build_schema
from imagehost.settings import Settings
from tests.api.conftest import gql, upload
from tests.imagedata import drawn_png

SHARED_CONTRACT = Path(__file__).parents[2].parent / "shared" / "contract" / "schema.graphql"
CONTRACT_COPY = Path(__file__).parents[1] / "fixtures" / "contract-schema.graphql"
IMAGES_PAGE = """query($first: Int!, $after: String) {
  images(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id filename } }
  }
}"""


# Parts of the shared contract that belong to open issues and are not served yet. The test
# below fails when anything else is missing, and also when one of these starts to be served
# (then it comes off this list).
NOT_YET_SERVED: dict[str, set[str]] = {}


@pytest.mark.parametrize("contract_file", [SHARED_CONTRACT, CONTRACT_COPY], ids=["shared", "copy"])
def test_served_schema_contains_the_whole_contract(contract_file: Path) -> None:
    if not contract_file.exists():
        pytest.skip(f"no contract at {contract_file} (a clone without shared/ beside it)")
    contract = parse_sdl(contract_file.read_text())
    served = parse_sdl(build_schema().as_str())
    missing = {change.description for change in find_breaking_changes(contract, served)}
    assert missing == set().union(*NOT_YET_SERVED.values())


def same_pixels(a: bytes, b: bytes) -> bool:
    with Image.open(io.BytesIO(a)) as first, Image.open(io.BytesIO(b)) as second:
        return first.size == second.size and first.tobytes() == second.tobytes()


def test_upload_each_format_and_fetch_the_same_bytes(client: TestClient, fixture_images: dict[str, Path]) -> None:
    for name, path in fixture_images.items():
        data = path.read_bytes()
        image = upload(client, [(name, data)])
        assert image["__typename"] == "Image", image
        assert image["filename"] == name
        assert re.fullmatch(r"http://img\.test/images/[A-Za-z0-9_-]{22}\.(jpg|png|gif|webp)", image["url"])
        served = client.get(image["url"])
        # Metadata is removed (privacy by default), the image data is kept as it was.
        assert served.status_code == 200 and image["size"] == len(served.content) <= len(data)
        assert same_pixels(served.content, data)
        assert served.headers["content-type"] == image["contentType"]
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "etag" in served.headers and "last-modified" in served.headers


def test_image_bytes_support_range_and_conditional_requests(client: TestClient, fixture_images: dict[str, Path]) -> None:
    data = fixture_images["photo_rocket.jpg"].read_bytes()
    url = upload(client, [("rocket.jpg", data)])["url"]
    partial = client.get(url, headers={"Range": "bytes=10-19"})
    assert partial.status_code == 206 and partial.content == data[10:20]
    etag = client.get(url).headers["etag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_unknown_images_and_private_files_are_plain_404(client: TestClient) -> None:
    upload(client, [("a.png", drawn_png())])
    for path in ("/images/" + "A" * 22 + ".png", "/images/.imagehost/catalog.sqlite3", "/images/../pyproject.toml"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/plain")


def test_uploads_are_typed_by_content_not_name(client: TestClient, fixture_images: dict[str, Path]) -> None:
    image = upload(client, [("looks-like.png", fixture_images["photo_coffee.jpg"].read_bytes())])
    assert image["contentType"] == "image/jpeg" and image["url"].endswith(".jpg")
    refused = upload(client, [("cat.jpg", b"%PDF-1.4 not an image")])
    assert refused == {
        "__typename": "UploadError",
        "code": "UNSUPPORTED_TYPE",
        "message": "cat.jpg is not an image: use JPEG, PNG, GIF, WebP, AVIF or HEIC",
        "rejected": "cat.jpg",
    }


def test_file_names_are_cleaned_for_display(client: TestClient) -> None:
    image = upload(client, [("../../etc/evil.png", drawn_png())])
    assert image["filename"] == "evil.png"
    windows = upload(client, [("C:\\Users\\me\\shot.png", drawn_png())])
    assert windows["filename"] == "shot.png"


def test_several_files_partial_success_in_order(client: TestClient, settings: Settings, fixture_images: dict[str, Path]) -> None:
    too_big = b"\x89PNG\r\n\x1a\n" + b"\x00" * settings.max_upload_bytes
    results = upload(
        client,
        [
            ("one.png", drawn_png()),
            ("notes.txt", b"just text"),
            ("big.png", too_big),
            ("two.gif", fixture_images["anim_throbber.gif"].read_bytes()),
        ],
    )
    assert [(r["__typename"], r.get("code")) for r in results] == [
        ("Image", None),
        ("UploadError", "UNSUPPORTED_TYPE"),
        ("UploadError", "TOO_LARGE"),
        ("Image", None),
    ]
    assert results[2]["rejected"] == "big.png"
    total = gql(client, "{ images { totalCount } }")["data"]["images"]["totalCount"]
    assert total == 2
    stored = sorted(p.name for p in settings.images_dir.iterdir() if p.is_file())
    assert len(stored) == 4 and len([name for name in stored if ".thumb." in name]) == 2  # each with its thumbnail


def test_paging_through_the_api(client: TestClient) -> None:
    for n in range(5):
        upload(client, [(f"{n}.png", drawn_png(color=(n * 40, 0, 0)))])
    seen: list[str] = []
    after = None
    for _ in range(5):
        page = gql(client, IMAGES_PAGE, {"first": 2, "after": after})["data"]["images"]
        assert page["totalCount"] == 5
        seen += [edge["node"]["filename"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert seen == ["4.png", "3.png", "2.png", "1.png", "0.png"]


@pytest.mark.parametrize(("first", "after"), [(0, None), (101, None), (-5, None), (10, "bogus")])
def test_bad_paging_arguments_are_clear_errors(client: TestClient, first: int, after: str | None) -> None:
    body = gql(client, IMAGES_PAGE, {"first": first, "after": after})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert ("between 1 and 100" in body["errors"][0]["message"]) or ("cursor" in body["errors"][0]["message"])


def test_image_by_id_and_delete(client: TestClient, settings: Settings) -> None:
    image = upload(client, [("a.png", drawn_png())])
    found = gql(client, "query($id: ID!) { image(id: $id) { id url } }", {"id": image["id"]})["data"]["image"]
    assert found == {"id": image["id"], "url": image["url"]}

    delete = "mutation($id: ID!) { deleteImage(id: $id) { __typename ... on DeletedImage { id } ... on ImageNotFound { id message } } }"
    assert gql(client, delete, {"id": image["id"]})["data"]["deleteImage"] == {"__typename": "DeletedImage", "id": image["id"]}
    again = gql(client, delete, {"id": image["id"]})["data"]["deleteImage"]
    assert again["__typename"] == "ImageNotFound" and image["id"] in again["message"]
    assert gql(client, "query($id: ID!) { image(id: $id) { id } }", {"id": image["id"]})["data"]["image"] is None
    assert client.get(image["url"]).status_code == 404
    assert [p for p in settings.images_dir.iterdir() if p.is_file()] == []


def test_upload_limits_query(client: TestClient, settings: Settings) -> None:
    limits = gql(client, "{ uploadLimits { maxUploadBytes maxPixels maxFiles acceptedTypes } }")["data"]["uploadLimits"]
    assert limits == {
        "maxUploadBytes": settings.max_upload_bytes,
        "maxPixels": settings.max_pixels,
        "maxFiles": settings.max_files,
        "acceptedTypes": ["image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/heic"],
    }


def test_urls_follow_public_url_setting(make_client: Callable[..., TestClient]) -> None:
    client = make_client(public_url="https://pics.example.org/base")
    image = upload(client, [("a.png", drawn_png())])
    assert image["url"].startswith("https://pics.example.org/base/images/")


def test_urls_follow_forwarded_headers_only_from_trusted_proxies(make_client: Callable[..., TestClient]) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "photos.example.net"}
    untrusted = make_client()
    assert upload(untrusted, [("a.png", drawn_png())], headers=forwarded)["url"].startswith("http://img.test/")
    trusted = make_client(peer="10.1.2.3", trusted_proxies=(ip_network("10.0.0.0/8"),))
    assert upload(trusted, [("a.png", drawn_png())], headers=forwarded)["url"].startswith("https://photos.example.net/images/")


def test_queries_via_get_but_not_mutations(client: TestClient) -> None:
    response = client.get("/graphql", params={"query": "{ images { totalCount } }"})
    assert response.status_code == 200 and response.json() == {"data": {"images": {"totalCount": 0}}}
    refused = client.get("/graphql", params={"query": 'mutation { deleteImage(id: "x") { __typename } }'})
    assert refused.status_code == 405
    assert refused.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


def test_batched_operations(client: TestClient) -> None:
    batch = [{"query": "{ images { totalCount } }"}, {"query": "{ uploadLimits { maxFiles } }"}]
    response = client.post("/graphql", json=batch)
    assert response.status_code == 200
    assert response.json() == [{"data": {"images": {"totalCount": 0}}}, {"data": {"uploadLimits": {"maxFiles": 4}}}]
    too_many = client.post("/graphql", json=[{"query": "{ __typename }"}] * 11)
    assert too_many.status_code == 400 and too_many.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_graphql_response_json_when_asked(client: TestClient) -> None:
    accept = {"Accept": "application/graphql-response+json, application/json;q=0.9"}
    ok = client.post("/graphql", json={"query": "{ images { totalCount } }"}, headers=accept)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/graphql-response+json")
    broken = client.post("/graphql", json={"query": "{ images { totalCount "}, headers=accept)
    assert broken.status_code == 400 and "data" not in broken.json()
    legacy = client.post("/graphql", json={"query": "{ images { totalCount "})
    assert legacy.status_code == 200 and legacy.headers["content-type"].startswith("application/json")


def test_graphiql_is_served_with_local_assets(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert "unpkg.com" not in page.text
    assets = re.findall(r'(?:src|href)="(/vendor/graphiql/[^"]+)"', page.text)
    assert len(assets) >= 6
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_the_ui_is_served_at_root(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")


def test_health(client: TestClient, settings: Settings) -> None:
    ok = client.get("/healthz")
    assert ok.status_code == 200 and ok.json() == {"status": "ok", "images": 0}
    work_dir = settings.images_dir / ".imagehost" / "tmp"
    work_dir.rmdir()
    work_dir.write_bytes(b"")  # the storage can no longer write
    try:
        broken = client.get("/healthz")
        assert broken.status_code == 503 and broken.json()["status"] == "unavailable"
    finally:
        work_dir.unlink()
        work_dir.mkdir()


def test_app_log_has_request_and_upload_lines_but_no_file_contents(client: TestClient, settings: Settings) -> None:
    secret = b"SECRET-CONTENT-" + b"x" * 20
    upload(client, [("a.png", drawn_png())])
    upload(client, [("leak.png", b"\x89PNG\r\n\x1a\n" + secret)])
    log = (settings.log_dir / "app.log").read_text()
    assert re.search(r"imagehost\.access request client=\S+ method=POST path=/graphql status=200 bytes_in=\d+ bytes_out=\d+ duration_ms=", log)
    assert re.search(r"imagehost\.uploads upload stored client=\S+ user=admin id=\S+ filename='a.png' type=image/png bytes=\d+", log)
    assert "upload refused" in log and "code=INVALID_IMAGE" in log
    assert "SECRET-CONTENT" not in log


def test_whole_request_refusals_are_graphql_shaped(client: TestClient, settings: Settings) -> None:
    cases = [
        (client.post("/graphql", content=b"{nope", headers={"Content-Type": "application/json"}), 400),
        (client.post("/graphql", content=b"x", headers={"Content-Type": "multipart/form-data"}), 400),
        (client.post("/graphql", data={"operations": "not json", "map": "{}"}, files={"0": ("a.png", b"x")}), 400),
        (client.post("/graphql", data={"operations": json.dumps({"query": "{__typename}"}), "map": '{"9": ["variables.f"]}'}, files={"0": ("a.png", b"x")}), 400),
        (client.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": "http://evil.example"}), 403),
        (client.post("/graphql", content=b"x" * (settings.max_body_bytes + 1), headers={"Content-Type": "application/json"}), 413),
        (client.put("/graphql", json={"query": "{ __typename }"}), 405),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) == {"errors"} and body["errors"][0]["message"]
        assert body["errors"][0]["extensions"]["code"]
    assert [p for p in settings.images_dir.iterdir() if p.is_file()] == []
