"""Helpers for the browser tests: test images, direct API calls, console watching, drag and drop."""

from __future__ import annotations

import io
import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.sync_api import BrowserContext, ConsoleMessage, Locator, Page, Request, expect

from tests.support import ADMIN, ADMIN_PASSWORD, SESSION_COOKIE, RunningServer, sign_in

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FIXTURE_IMAGES = Path(__file__).resolve().parent.parent / "fixtures" / "images"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


# ---- images -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestImage:
    """A file to upload: its name, its bytes, and where it lies on disk (for set_input_files)."""

    __test__ = False  # not a test class, despite the name

    path: Path
    content_type: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def _pick_fixture(want: str) -> Path | None:
    """A real photo from tests/fixtures/images that fits `want` (jpeg, alpha-png, animated-gif)."""
    if not FIXTURE_IMAGES.is_dir():
        return None
    for path in sorted(FIXTURE_IMAGES.iterdir()):
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            with Image.open(path) as image:
                fmt = image.format
                animated = getattr(image, "n_frames", 1) > 1
                alpha = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
        except Exception:  # noqa: BLE001 - not an image: not a candidate
            continue
        if want == "jpeg" and fmt == "JPEG":
            return path
        if want == "alpha-png" and fmt == "PNG" and alpha:
            return path
        if want == "animated-gif" and fmt == "GIF" and animated:
            return path
    return None


def _gradient_jpeg(path: Path) -> None:
    width, height = 640, 427
    image = Image.new("RGB", (width, height))
    pixels = image.load()
    assert pixels is not None
    for y in range(height):
        for x in range(width):
            pixels[x, y] = (
                40 + x * 180 // width,
                90 + y * 120 // height,
                200 - (x + y) * 120 // (width + height),
            )
    ImageDraw.Draw(image).ellipse((420, 60, 560, 200), fill=(250, 220, 120))
    image.save(path, "JPEG", quality=88)


def _transparent_png(path: Path) -> None:
    image = Image.new("RGBA", (320, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 20, 280, 220), fill=(59, 91, 219, 200))
    draw.rectangle((120, 90, 200, 150), fill=(255, 255, 255, 255))
    image.save(path, "PNG")


def _animated_gif(path: Path) -> None:
    frames = [
        Image.new("RGB", (120, 120), colour)
        for colour in ((220, 60, 60), (60, 180, 90), (60, 90, 220))
    ]
    for index, frame in enumerate(frames):
        ImageDraw.Draw(frame).text((50, 50), str(index + 1), fill=(255, 255, 255))
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)


@dataclass(frozen=True)
class Images:
    jpeg: TestImage
    png: TestImage
    gif: TestImage
    folder: Path

    def make(self, name: str, data: bytes) -> Path:
        """Write a one-off file (wrong type, broken image ...) and return its path."""
        path = self.folder / name
        path.write_bytes(data)
        return path


def make_images(folder: Path) -> Images:
    """The three kinds the issue names; real photos from tests/fixtures/images when there."""
    made = {}
    for want, name, content_type, make in (
        ("jpeg", "gradient-photo.jpg", "image/jpeg", _gradient_jpeg),
        ("alpha-png", "transparent.png", "image/png", _transparent_png),
        ("animated-gif", "animated.gif", "image/gif", _animated_gif),
    ):
        path = _pick_fixture(want)
        if path is None:
            path = folder / name
            make(path)
        made[want] = TestImage(path, content_type)
    return Images(made["jpeg"], made["alpha-png"], made["animated-gif"], folder)


def noise_png(width: int, height: int) -> bytes:
    """An incompressible PNG: random pixels make its size predictable (about 3 bytes a pixel)."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def solid_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (230, 230, 230)).save(buffer, "PNG")
    return buffer.getvalue()


# ---- server and API -----------------------------------------------------------------------


def graphql(
    server: RunningServer,
    query: str,
    variables: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, object]:
    """A JSON GraphQL request from a script (no Origin header), as the admin's API token unless
    `headers` says otherwise; the answer must carry no errors."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        server.url + "/graphql",
        data=body,
        headers={"Content-Type": "application/json", **(server.auth if headers is None else headers)},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result = json.loads(response.read())
    assert "errors" not in result, result
    data = result["data"]
    assert isinstance(data, dict)
    return data


def part(boundary: str, disposition: str, body: bytes) -> bytes:
    """One form-data part with its trailing line break."""
    head = f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n"
    return head.encode() + body + b"\r\n"


def upload_result(
    server: RunningServer, name: str, data: bytes, headers: dict[str, str] | None = None
) -> dict[str, object]:
    """What the server answers to an upload from a script (multipart, no Origin header), as the
    admin's API token unless `headers` says otherwise."""
    boundary = "----imagehost-test-boundary"
    operations = json.dumps(
        {
            "query": "mutation($file: Upload!) { uploadImage(file: $file) { __typename"
            " ... on Image { id filename url size } ... on UploadError { code message } } }",
            "variables": {"file": None},
        }
    )
    body = b"".join(
        [
            part(boundary, 'name="operations"', operations.encode()),
            part(boundary, 'name="map"', b'{"0": ["variables.file"]}'),
            f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode(),
            data,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    request = urllib.request.Request(
        server.url + "/graphql",
        data=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            **(server.auth if headers is None else headers),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result = json.loads(response.read())
    return dict(result["data"]["uploadImage"])


def upload_directly(
    server: RunningServer, name: str, data: bytes, headers: dict[str, str] | None = None
) -> dict[str, object]:
    """Upload as another client would, not through the page; the file must be accepted."""
    node = upload_result(server, name, data, headers)
    assert node["__typename"] == "Image", node
    return node


def total_count(server: RunningServer) -> int:
    data = graphql(server, "{ images(first: 1) { totalCount } }")
    images = data["images"]
    assert isinstance(images, dict)
    return int(images["totalCount"])


def fetch_bytes(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def status_of(
    server: RunningServer, query: str, headers: dict[str, str]
) -> tuple[int, dict[str, object]]:
    """A JSON GraphQL POST whose refusal is the point: the status and the decoded body."""
    body = json.dumps({"query": query}).encode()
    request = urllib.request.Request(
        server.url + "/graphql",
        data=body,
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


# ---- the page -----------------------------------------------------------------------------


def add_session(
    context: BrowserContext, server: RunningServer, username: str = ADMIN, password: str = ADMIN_PASSWORD
) -> None:
    """Sign a browser context in (a session made over the API, its cookie set as signIn sets it)."""
    session = sign_in(server.url, username, password)
    context.add_cookies(
        [
            {
                "name": SESSION_COOKIE,
                "value": session,
                "url": server.url,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )


@dataclass
class ConsoleWatch:
    """Console errors and uncaught exceptions seen by a page, minus those a test expects."""

    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Expect console errors matching `pattern` (Chromium's own line for a failed request)."""
        self.allowed.append(re.compile(pattern))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(
                f"console.error: {message.text} ({message.location.get('url', '')})"
            )

    def on_page_error(self, error: Exception) -> None:
        self.problems.append(f"uncaught: {error}")

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(pattern.search(p) for pattern in self.allowed)]


def open_app(page: Page, server: RunningServer, query: str = "") -> None:
    """Open the page and wait until it knows the server's upload limits."""
    page.goto(server.url + "/" + query)
    page.wait_for_selector("html.is-ready")
    # (not wait_for_function with a string: the page's CSP forbids the eval it uses)
    expect(page.locator("#upload-limits")).to_contain_text("each")


def drop_files(page: Page, selector: str, files: list[tuple[str, bytes, str]]) -> None:
    """Drop files on an element as a drag does: dragenter, dragover, drop, one DataTransfer."""
    payload = [{"name": name, "type": mime, "bytes": list(data)} for name, data, mime in files]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const f of files) {
                transfer.items.add(new File([new Uint8Array(f.bytes)], f.name, { type: f.type }));
            }
            return transfer;
        }""",
        payload,
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(selector, event, {"dataTransfer": transfer})


def upload_row(page: Page, name: str) -> Locator:
    """The Upload view's row for the file called `name`."""
    return page.locator("#uploads .upload").filter(has=page.locator(".upload__name", has_text=name))


def record_multipart_posts(page: Page) -> list[Request]:
    """Record every multipart POST (an upload) the page sends from now on."""
    sent: list[Request] = []

    def note(request: Request) -> None:
        content_type = request.headers.get("content-type") or ""
        if request.method == "POST" and content_type.startswith("multipart/form-data"):
            sent.append(request)

    page.on("request", note)
    return sent


def image_row(page: Page, name: str) -> Locator:
    """The Images view's row for the image called `name`."""
    return page.locator("#images-body .image-row").filter(
        has=page.locator(".cell-name", has_text=name)
    )


def record_operations(page: Page, operation: str) -> list[Request]:
    """Record every GraphQL request naming `operation` (e.g. "DeleteImage") from now on."""
    sent: list[Request] = []

    def note(request: Request) -> None:
        if request.method == "POST" and f"mutation {operation}" in (request.post_data or ""):
            sent.append(request)
        elif request.method == "POST" and f"query {operation}" in (request.post_data or ""):
            sent.append(request)

    page.on("request", note)
    return sent


def image_ids(server: RunningServer) -> set[str]:
    """The ids the server lists now (first 100)."""
    data = graphql(server, "{ images(first: 100) { edges { node { id } } } }")
    images = data["images"]
    assert isinstance(images, dict)
    return {str(edge["node"]["id"]) for edge in images["edges"]}


def assert_same_picture(served: bytes, original: bytes) -> None:
    """The served file shows what was uploaded: the same bytes, or, when the server stripped
    metadata (EXIF, XMP, text chunks), the same format, size, frames and pixels."""
    if served == original:
        return
    with Image.open(io.BytesIO(served)) as got, Image.open(io.BytesIO(original)) as sent:
        assert (got.format, got.size) == (sent.format, sent.size)
        frames = getattr(sent, "n_frames", 1)
        assert getattr(got, "n_frames", 1) == frames
        for index in range(frames):
            got.seek(index)
            sent.seek(index)
            assert got.convert("RGBA").tobytes() == sent.convert("RGBA").tobytes(), index
