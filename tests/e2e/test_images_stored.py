"""What a real `imagehost serve` stores for real-world images (issue 14), checked from outside.

Uploads go through the gql client; the stored bytes are downloaded by their `url` (and
`thumbnailUrl`) and looked at with Pillow and byte by byte. The images were made by others
(Pillow's and pillow-heif's test suites, tests/fixtures/real_images/SOURCES.md), so the metadata
in them is what cameras and editors really write. The contract: ../shared/contract/README.md,
"What is stored, and the renditions" and "Uploads".
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gql import Client, FileVar, GraphQLRequest, gql
from gql.client import SyncClientSession
from gql.transport.requests import RequestsHTTPTransport
from PIL import Image, ImageSequence

from tests.e2e._image_bytes import (
    ACCEPTED_NAMES,
    GPS_IFD,
    THUMBNAIL_TYPES,
    assert_fits_thumbnail_box,
    assert_private,
    decoded,
    download,
    jpeg_scan_data,
    mean_difference,
    real,
    sibling_url,
    upright,
)
from tests.e2e._service import FIXTURE_BY_NAME, partial_uploads, stored_names, total_count
from tests.support import RunningServer, run_serve

IMAGE_FIELDS = "id filename contentType size width height url"
RESULT = "__typename ... on Image {{ {fields} }} ... on UploadError {{ code message }}"
DELETE = "mutation($id: ID!) { deleteImage(id: $id) { __typename } }"
ROCKET = FIXTURE_BY_NAME["photo_rocket.jpg"].data  # 112,525 bytes, 640x427, ICC profile

# Strings from each original's metadata (camera make/model, software, IPTC place names, the XMP
# packet, comments): none may be left anywhere in what is stored.
SECRETS: dict[str, tuple[bytes, ...]] = {
    "exif_gps.jpg": (b"XXX-XXX",),
    "iptc.jpg": (b"Nokia", b"Budapest"),
    "rgb.jpg": (b"Adobe Photoshop CS4", b"x:xmpmeta", b"ns.adobe.com/xap"),
    "pil_sample_cmyk.jpg": (b"Adobe Photoshop CS", b"x:xmpmeta"),
    "hopper.jpg": (b"File written by Adobe Photoshop",),
    "multiple_comments.gif": (b"Test comment",),
    "xmp_tags_orientation.png": (b"x:xmpmeta",),
    "flower2.webp": (b"Adobe Photoshop CS6", b"x:xmpmeta"),
    "L_exif_xmp_iptc.heic": (b"SONY", b"x:xmpmeta", b"Budapest"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_serve(tmp_path_factory.mktemp("stored")) as running:
        yield running


def open_session(server: RunningServer) -> Client:
    transport = RequestsHTTPTransport(url=server.url + "/graphql", timeout=30, headers=server.auth)
    return Client(transport=transport, fetch_schema_from_transport=False)


@pytest.fixture(scope="module")
def session(server: RunningServer) -> Iterator[SyncClientSession]:
    with open_session(server) as gql_session:
        yield gql_session


def upload(
    session: SyncClientSession, data: bytes, filename: str, fields: str = IMAGE_FIELDS
) -> dict[str, Any]:
    result_fields = RESULT.format(fields=fields)
    query = gql(f"mutation($file: Upload!) {{ uploadImage(file: $file) {{ {result_fields} }} }}")
    file = FileVar(io.BytesIO(data), filename=filename, content_type="application/octet-stream")
    request = GraphQLRequest(query, variable_values={"file": file})
    result: dict[str, Any] = session.execute(request, upload_files=True)["uploadImage"]
    return result


def stored_image(
    session: SyncClientSession, name: str, fields: str = IMAGE_FIELDS
) -> dict[str, Any]:
    image = upload(session, real(name), name, fields)
    assert image["__typename"] == "Image", image
    return image


def stored_bytes(image: dict[str, Any], field: str = "url") -> bytes:
    reply = download(image[field])
    assert reply.status == 200, (image[field], reply.status)
    return reply.body


@pytest.mark.parametrize("name", list(SECRETS))
def test_no_gps_exif_xmp_iptc_or_comment_is_left(session: SyncClientSession, name: str) -> None:
    image = stored_image(session, name)
    stored = stored_bytes(image)

    assert_private(stored, SECRETS[name])
    assert image["size"] == len(stored)  # `size` is the bytes stored, after stripping


@pytest.mark.parametrize(
    "name",
    ["rgb.jpg", "icc_profile.png", "xmp_tags_orientation.png", "flower2.webp", "icc_profile.avif"],
)
def test_the_icc_profile_is_kept_byte_identical(session: SyncClientSession, name: str) -> None:
    original_profile = decoded(real(name)).info["icc_profile"]

    stored = decoded(stored_bytes(stored_image(session, name)))

    assert stored.info.get("icc_profile") == original_profile


@pytest.mark.parametrize(
    "name", ["rgb.jpg", "iptc.jpg", "exif_gps.jpg", "hopper.jpg", "pil_sample_cmyk.jpg"]
)
def test_a_jpeg_whose_only_change_is_metadata_keeps_its_pixels(
    session: SyncClientSession, name: str
) -> None:
    original = real(name)
    stored = stored_bytes(stored_image(session, name))

    assert jpeg_scan_data(stored) == jpeg_scan_data(original)  # the compressed data, as it was
    before, after = decoded(original), decoded(stored)
    assert (after.mode, after.size) == (before.mode, before.size)
    assert after.tobytes() == before.tobytes()


def test_a_rotated_photo_reports_and_shows_its_upright_size(session: SyncClientSession) -> None:
    # 2x1 pixels with EXIF orientation 8 ("rotate 90 degrees clockwise to view"): upright 1x2.
    image = stored_image(session, "orientation_rectangle.jpg")
    stored = stored_bytes(image)

    assert (image["width"], image["height"]) == (1, 2)
    assert_private(stored)  # Orientation may stay, alone; nothing else
    assert upright(stored).size == (1, 2)


# The PNG's orientation (3) is in its XMP only (tiff:Orientation), which has to go.
@pytest.mark.parametrize(
    "name", ["hopper_orientation_6.jpg", "hopper_orientation_6.webp", "xmp_tags_orientation.png"]
)
def test_a_rotated_photo_is_shown_the_right_way_up(session: SyncClientSession, name: str) -> None:
    expected = upright(real(name))

    stored = upright(stored_bytes(stored_image(session, name)))

    # The right rotation differs by re-encoding noise at most (< 10 of 255); a wrong one by ~75.
    assert mean_difference(stored, expected) < 10


THUMBNAIL_FIELDS = IMAGE_FIELDS + " thumbnailUrl"


@pytest.mark.parametrize("name", ["rgb.jpg", "exif_gps.jpg", "hopper.avif", "RGB_8__29x100.heif",
                                  "orientation_rectangle.jpg", "L_exif_xmp_iptc.heic"])
def test_the_thumbnail_fits_512_is_webp_or_jpeg_upright_and_private(
    session: SyncClientSession, name: str
) -> None:
    image = stored_image(session, name, THUMBNAIL_FIELDS)
    reply = download(image["thumbnailUrl"])

    assert reply.status == 200
    content_type = reply.headers["Content-Type"]
    assert content_type in THUMBNAIL_TYPES
    thumbnail = decoded(reply.body)
    assert thumbnail.format == THUMBNAIL_TYPES[content_type]
    assert_fits_thumbnail_box(upright(reply.body), image["width"], image["height"])
    assert_private(reply.body, SECRETS.get(name, ()))


@pytest.mark.parametrize(
    ("name", "content_type", "mode"),
    [("photo_rocket.jpg", "image/jpeg", "RGB"), ("rgb.jpg", "image/jpeg", "RGB"),
     ("xmp_tags_orientation.png", "image/jpeg", "RGB"),  # RGBA, but every pixel opaque
     ("alpha_earth.png", "image/webp", "RGBA")],
)
def test_an_opaque_image_gets_a_jpeg_thumbnail_and_a_transparent_one_a_webp(
    session: SyncClientSession, name: str, content_type: str, mode: str
) -> None:
    data = FIXTURE_BY_NAME[name].data if name in FIXTURE_BY_NAME else real(name)
    image = upload(session, data, name, THUMBNAIL_FIELDS)
    reply = download(image["thumbnailUrl"])

    assert (reply.status, reply.headers["Content-Type"]) == (200, content_type)
    assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    extension = {"image/jpeg": "jpg", "image/webp": "webp"}[content_type]
    assert image["thumbnailUrl"] == sibling_url(image["url"], f"thumb.{extension}")
    thumbnail = decoded(reply.body)
    assert (thumbnail.format, thumbnail.mode) == (THUMBNAIL_TYPES[content_type], mode)
    assert_fits_thumbnail_box(upright(reply.body), image["width"], image["height"])
    with Image.open(io.BytesIO(data)) as source:
        if "icc_profile" in source.info:  # the profile describes the thumbnail's RGB pixels too
            assert thumbnail.info["icc_profile"] == source.info["icc_profile"]
        if mode == "RGBA":  # see-through where the original is
            expected = source.convert("RGBA").getchannel("A").resize(thumbnail.size)
            assert mean_difference(thumbnail.getchannel("A"), expected) < 10
            assert thumbnail.getchannel("A").getextrema()[0] < 10


def test_a_large_photos_thumbnail_is_downscaled_into_the_box(session: SyncClientSession) -> None:
    image = upload(session, ROCKET, "rocket.jpg", THUMBNAIL_FIELDS)
    thumbnail = upright(stored_bytes(image, "thumbnailUrl"))

    assert (image["width"], image["height"]) == (640, 427)
    assert_fits_thumbnail_box(thumbnail, 640, 427)
    assert max(thumbnail.size) == 512
    assert mean_difference(thumbnail, decoded(ROCKET).resize(thumbnail.size)) < 10


def test_the_thumbnail_is_served_with_the_images_caching_headers(
    session: SyncClientSession,
) -> None:
    image = stored_image(session, "iptc.jpg", THUMBNAIL_FIELDS)
    original, thumbnail = download(image["url"]), download(image["thumbnailUrl"])

    assert (original.status, thumbnail.status) == (200, 200)
    assert thumbnail.headers["Cache-Control"] == original.headers["Cache-Control"]
    assert "immutable" in thumbnail.headers["Cache-Control"]
    assert thumbnail.headers["X-Content-Type-Options"] == "nosniff"
    assert thumbnail.headers["ETag"] and original.headers["ETag"]
    assert thumbnail.headers["ETag"] != original.headers["ETag"]
    revalidated = download(image["thumbnailUrl"], {"If-None-Match": thumbnail.headers["ETag"]})
    assert revalidated.status == 304


@pytest.mark.parametrize(
    "name", ["multiple_comments.gif", "anim_throbber.gif", "anim_throbber.webp", "star.avifs"]
)
def test_an_animations_thumbnail_is_its_first_frame(session: SyncClientSession, name: str) -> None:
    data = FIXTURE_BY_NAME[name].data if name in FIXTURE_BY_NAME else real(name)
    image = upload(session, data, name, THUMBNAIL_FIELDS)
    thumbnail_bytes = stored_bytes(image, "thumbnailUrl")
    thumbnail = decoded(thumbnail_bytes)

    assert getattr(thumbnail, "n_frames", 1) == 1
    with Image.open(io.BytesIO(data)) as animation:
        frames = [frame.convert("RGB").resize(thumbnail.size)
                  for frame in ImageSequence.Iterator(animation)]
    # Closer to the first frame than to every frame that looks different from it.
    others = [frame for frame in frames[1:] if mean_difference(frame, frames[0]) > 1]
    assert others, "the animation's frames all look alike"
    first = mean_difference(thumbnail, frames[0])
    assert all(first < mean_difference(thumbnail, frame) for frame in others), first


def test_an_iphone_heic_is_stored_as_a_jpeg_beside_the_original(session: SyncClientSession) -> None:
    original = real("RGB_8__29x100.heif")
    image = upload(session, original, "IMG_0001.HEIC")

    assert image["__typename"] == "Image", image
    assert image["contentType"] == "image/jpeg"
    assert image["url"].endswith(".jpg")
    assert (image["width"], image["height"]) == (29, 100)
    display = download(image["url"])
    assert display.status == 200 and display.headers["Content-Type"] == "image/jpeg"
    assert image["size"] == len(display.body)
    shown = decoded(display.body)
    assert (shown.format, shown.size) == ("JPEG", (29, 100))
    assert mean_difference(shown, decoded(original)) < 10

    kept = download(sibling_url(image["url"], "heic"))
    assert kept.status == 200
    assert kept.body[4:12] == b"ftypheic"
    heic = decoded(kept.body)
    assert (heic.format, heic.size) == ("HEIF", (29, 100))
    assert mean_difference(heic, decoded(original)) < 10


def test_a_heics_jpeg_and_kept_original_carry_no_metadata(session: SyncClientSession) -> None:
    image = stored_image(session, "L_exif_xmp_iptc.heic")
    secrets = SECRETS["L_exif_xmp_iptc.heic"]

    assert image["contentType"] == "image/jpeg"
    assert_private(stored_bytes(image), secrets)
    kept = download(sibling_url(image["url"], "heic"))
    assert kept.status == 200
    # The contract: "Stored bytes keep no EXIF ... XMP"; the .heic is stored and public too.
    assert_private(kept.body, secrets)


def test_an_avifs_stored_bytes_carry_no_metadata_and_the_same_pixels(session: SyncClientSession) -> None:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Apple", "iPhone 15 Pro"
    exif[GPS_IFD] = {1: "N", 2: (52.0, 22.0, 1.5), 3: "E", 4: (4.0, 53.0, 2.0)}
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://ns.adobe.com/xap/1.0/"/></x:xmpmeta>'
    out = io.BytesIO()
    decoded(real("hopper.avif")).save(out, "AVIF", quality=70, exif=exif, xmp=xmp)
    assert decoded(out.getvalue()).getexif().get_ifd(GPS_IFD)  # the GPS position is there to begin with

    image = upload(session, out.getvalue(), "phone.avif")
    stored = stored_bytes(image)

    assert image["__typename"] == "Image", image
    assert image["contentType"] == "image/avif" and image["size"] == len(stored) == len(out.getvalue())
    assert_private(stored, (b"iPhone 15 Pro", b"x:xmpmeta", b"ns.adobe.com/xap"))
    same_pixels = decoded(stored).tobytes() == decoded(out.getvalue()).tobytes()
    assert same_pixels


@pytest.mark.parametrize(
    ("name", "size"), [("hopper.avif", (128, 128)), ("star.avifs", (159, 159))]
)
def test_avif_is_accepted_and_served_as_avif(
    session: SyncClientSession, name: str, size: tuple[int, int]
) -> None:
    image = upload(session, real(name), name)

    assert image["__typename"] == "Image", image
    assert image["contentType"] == "image/avif"
    assert image["url"].endswith(".avif")
    assert (image["width"], image["height"]) == size
    reply = download(image["url"])
    assert reply.status == 200 and reply.headers["Content-Type"] == "image/avif"
    assert (decoded(reply.body).format, decoded(reply.body).size) == ("AVIF", size)


BROKEN = {
    "truncated_jpeg.jpg": lambda: real("truncated_jpeg.jpg"),  # a real progressive JPEG, cut short
    "rocket-first-20KB.jpg": lambda: ROCKET[:20_000],
    "rocket-first-700B.jpg": lambda: ROCKET[:700],
    "broken_data_stream.png": lambda: real("broken_data_stream.png"),
    "truncated_image.png": lambda: real("truncated_image.png"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_file_that_does_not_decode_to_the_end_is_invalid_and_not_stored(
    session: SyncClientSession, server: RunningServer, name: str
) -> None:
    files_before, count_before = stored_names(server.images_dir), total_count(server.url)

    result = upload(session, BROKEN[name](), name)

    assert (result["__typename"], result["code"]) == ("UploadError", "INVALID_IMAGE"), result
    assert stored_names(server.images_dir) == files_before
    assert total_count(server.url) == count_before
    assert partial_uploads(server.images_dir) == []


def test_a_truncated_file_among_good_ones_is_refused_alone(
    session: SyncClientSession, server: RunningServer
) -> None:
    files_before, count_before = stored_names(server.images_dir), total_count(server.url)
    query = gql(f"mutation($files: [Upload!]!) {{ uploadImages(files: $files) {{"
                f" {RESULT.format(fields=IMAGE_FIELDS)} }} }}")
    sent = [("first.jpg", real("exif_gps.jpg")), ("cut.jpg", ROCKET[:20_000]),
            ("last.gif", real("multiple_comments.gif"))]
    files = [FileVar(io.BytesIO(data), filename=name) for name, data in sent]
    request = GraphQLRequest(query, variable_values={"files": files})

    results = session.execute(request, upload_files=True)

    kinds = [(result["__typename"], result.get("code")) for result in results["uploadImages"]]
    assert kinds == [("Image", None), ("UploadError", "INVALID_IMAGE"), ("Image", None)]
    assert total_count(server.url) == count_before + 2
    new_files = stored_names(server.images_dir) - files_before
    assert len(new_files) == 4, new_files  # display bytes + thumbnail of each stored image


def test_the_image_query_names_the_same_thumbnail(session: SyncClientSession) -> None:
    uploaded = stored_image(session, "flower2.webp", THUMBNAIL_FIELDS)
    query = gql("query($id: ID!) { image(id: $id) { url thumbnailUrl } }")

    image = session.execute(GraphQLRequest(query, variable_values={"id": uploaded["id"]}))["image"]

    assert image == {"url": uploaded["url"], "thumbnailUrl": uploaded["thumbnailUrl"]}
    assert image["thumbnailUrl"] != image["url"]


def test_a_pdf_named_cat_jpg_is_unsupported_and_the_message_names_the_formats(
    session: SyncClientSession, server: RunningServer
) -> None:
    pdf = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
           b"trailer << /Root 1 0 R >>\n%%EOF\n")
    files_before = stored_names(server.images_dir)

    result = upload(session, pdf, "cat.jpg")

    assert (result["__typename"], result["code"]) == ("UploadError", "UNSUPPORTED_TYPE"), result
    missing = [name for name in ACCEPTED_NAMES if name not in result["message"]]
    assert not missing, (missing, result["message"])
    assert stored_names(server.images_dir) == files_before


def test_deleting_an_image_removes_every_key(
    session: SyncClientSession, server: RunningServer
) -> None:
    files_before = stored_names(server.images_dir)
    image = upload(session, real("L_exif_xmp_iptc.heic"), "IMG_0002.HEIC", THUMBNAIL_FIELDS)
    urls = [image["url"], image["thumbnailUrl"], sibling_url(image["url"], "heic")]
    assert image["thumbnailUrl"] == sibling_url(image["url"], "thumb.jpg")  # an opaque photo's
    assert [download(url).status for url in urls] == [200, 200, 200]
    assert len(stored_names(server.images_dir) - files_before) == 3

    deleted = session.execute(GraphQLRequest(gql(DELETE), variable_values={"id": image["id"]}))

    assert deleted["deleteImage"]["__typename"] == "DeletedImage"
    assert [download(url).status for url in urls] == [404, 404, 404]
    assert stored_names(server.images_dir) == files_before


def test_keep_metadata_stores_the_exif(tmp_path: Path) -> None:
    with run_serve(tmp_path, keep_metadata="true") as server, open_session(server) as gql_session:
        image = stored_image(gql_session, "exif_gps.jpg")
        stored = stored_bytes(image)

    assert b"XXX-XXX" in stored
    with Image.open(io.BytesIO(stored)) as opened:
        assert opened.getexif().get_ifd(GPS_IFD)
