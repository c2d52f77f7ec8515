"""Uploading through the page: drop, picker, keyboard, paste, refusals and network failures."""

from __future__ import annotations

import re

from playwright.sync_api import FileChooser, Page, expect

from tests.browser.browser_helpers import (
    ConsoleWatch,
    assert_same_picture,
    Images,
    TestImage,
    drop_files,
    fetch_bytes,
    open_app,
    record_multipart_posts,
    upload_result,
    upload_row,
)
from tests.support import RunningServer

# A JPEG signature with nothing behind it: passes the page's check, fails the server's decode.
BROKEN_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 400
TYPE_NAMES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/avif": "AVIF",
    "image/heic": "HEIC",
}


def assert_uploaded(page: Page, image: TestImage) -> str:
    """The row for `image` ends done, shows its details, and its URL serves the same bytes."""
    row = upload_row(page, image.name)
    expect(row).to_have_attribute("data-state", "done")
    url = row.locator(".url-field").input_value()
    assert url.startswith("http://") and "/images/" in url
    status, body = fetch_bytes(url)
    assert status == 200
    assert_same_picture(body, image.data)
    expect(row.locator(".upload__meta")).to_contain_text(TYPE_NAMES[image.content_type])
    expect(row.locator(".copy-button")).to_have_accessible_name(f"Copy link to {image.name}")
    return url


def test_dropping_images_uploads_each_and_shows_urls_serving_the_same_bytes(
    page: Page, server: RunningServer, images: Images
) -> None:
    open_app(page, server)
    files = [
        (image.name, image.data, image.content_type)
        for image in (images.jpeg, images.png, images.gif)
    ]
    drop_files(page, "#dropzone", files)
    urls = {assert_uploaded(page, image) for image in (images.jpeg, images.png, images.gif)}
    assert len(urls) == 3
    expect(page.locator("#uploads .upload")).to_have_count(3)
    expect(page.locator("#uploads-empty")).to_be_hidden()
    # The animated GIF keeps its frames: the stored bytes are the original file (checked above).
    expect(upload_row(page, images.gif.name).locator(".upload__meta")).to_contain_text("GIF")


def test_file_picker_uploads(page: Page, server: RunningServer, images: Images) -> None:
    open_app(page, server)
    page.set_input_files("#file-input", [str(images.png.path)])
    assert_uploaded(page, images.png)


def test_drop_zone_opens_the_picker_from_the_keyboard(page: Page, server: RunningServer) -> None:
    open_app(page, server)
    zone = page.locator("#dropzone")
    expect(zone).to_have_attribute("role", "button")
    expect(zone).to_have_accessible_name(
        "Choose images to upload. You can also drop files here or paste an image."
    )
    # Listen well before acting: Playwright turns file-chooser interception on lazily and
    # without waiting, so `expect_file_chooser` around a key press races with it.
    choosers: list[FileChooser] = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    page.evaluate("0")
    page.wait_for_timeout(100)
    for presses, key in enumerate(("Enter", " "), start=1):
        zone.focus()
        page.keyboard.press(key)
        for _ in range(100):
            if len(choosers) == presses:
                break
            page.wait_for_timeout(50)
        assert len(choosers) == presses, f"{key!r} did not open the file picker"
        assert choosers[-1].is_multiple()
        assert choosers[-1].element.get_attribute("id") == "file-input"


def test_pasting_an_image_uploads_it(page: Page, server: RunningServer, images: Images) -> None:
    open_app(page, server)
    page.evaluate(
        """(bytes) => {
            const transfer = new DataTransfer();
            const file = new File([new Uint8Array(bytes)], "image.png", { type: "image/png" });
            transfer.items.add(file);
            const paste = new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true });
            document.dispatchEvent(paste);
        }""",
        list(images.png.data),
    )
    row = page.locator("#uploads .upload").first
    expect(row).to_have_attribute("data-state", "done")
    expect(row.locator(".upload__name")).to_have_text(re.compile(r"^pasted-\d{8}-\d{6}\.png$"))
    status, body = fetch_bytes(row.locator(".url-field").input_value())
    assert status == 200
    assert_same_picture(body, images.png.data)


def test_several_files_with_one_refused(page: Page, server: RunningServer, images: Images) -> None:
    open_app(page, server)
    sent = record_multipart_posts(page)
    notes = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
    drop_files(
        page,
        "#dropzone",
        [
            (images.jpeg.name, images.jpeg.data, "image/jpeg"),
            ("cat.jpg", notes, "image/jpeg"),  # a PDF under a picture's name: refused here
            (images.gif.name, images.gif.data, "image/gif"),
            ("damaged.jpg", BROKEN_JPEG, "image/jpeg"),  # refused by the server
        ],
    )
    assert_uploaded(page, images.jpeg)
    assert_uploaded(page, images.gif)
    damaged = upload_row(page, "damaged.jpg")
    expect(damaged).to_have_attribute("data-state", "error")
    expect(damaged.locator(".upload__error-text")).to_contain_text("damaged.jpg")
    refused = upload_row(page, "cat.jpg")
    expect(refused).to_have_attribute("data-state", "error")
    expect(refused.locator(".upload__error-text")).to_have_text(
        "cat.jpg is not an image this server takes: use JPEG, PNG, GIF, WebP, AVIF or HEIC."
    )
    expect(refused.locator(".upload__error-text")).to_be_visible()
    expect(refused.locator(".upload__retry")).to_be_hidden()
    # cat.jpg was refused in the page, before sending; the other three went to the server.
    assert len(sent) == 3


def test_wrong_type_is_refused_before_sending(
    page: Page, server: RunningServer, images: Images
) -> None:
    open_app(page, server)
    sent = record_multipart_posts(page)
    text = images.make("notes.txt", b"shopping list: milk, eggs\n")
    page.set_input_files("#file-input", [str(text)])
    row = upload_row(page, "notes.txt")
    expect(row).to_have_attribute("data-state", "error")
    expect(row.locator(".upload__error-text")).to_contain_text("notes.txt is not an image")
    page.wait_for_timeout(300)
    assert sent == []


def test_server_refusal_is_shown_with_its_message(
    page: Page, server: RunningServer, images: Images
) -> None:
    broken = BROKEN_JPEG
    expected = upload_result(server, "broken.jpg", broken)
    assert expected["__typename"] == "UploadError"
    open_app(page, server)
    sent = record_multipart_posts(page)
    page.set_input_files("#file-input", [str(images.make("broken.jpg", broken))])
    row = upload_row(page, "broken.jpg")
    expect(row).to_have_attribute("data-state", "error")
    shown = row.locator(".upload__error-text").inner_text()
    assert shown.startswith("broken.jpg")
    assert shown == expected["message"]  # the server's own sentence
    assert len(sent) == 1


def test_network_failure_is_shown_and_retry_recovers(
    page: Page, server: RunningServer, images: Images, console: ConsoleWatch
) -> None:
    console.allow(r"Failed to load resource: net::ERR_FAILED")
    open_app(page, server)
    page.route("**/graphql", lambda route: route.abort())
    page.set_input_files("#file-input", [str(images.jpeg.path)])
    row = upload_row(page, images.jpeg.name)
    expect(row).to_have_attribute("data-state", "error")
    expect(row.locator(".upload__error-text")).to_have_text(
        "Could not reach the server. "
        "Check your connection or that Imagehost is running, then try again."
    )
    expect(page.locator("#banner")).to_be_visible()
    expect(page.locator("#banner-text")).to_contain_text("Could not reach the server")

    page.unroute("**/graphql")
    row.locator(".upload__retry").click()
    assert_uploaded(page, images.jpeg)
    expect(page.locator("#banner")).to_be_hidden()
