"""Previews load thumbnails (`Image.thumbnailUrl`), not the display files.

Every image here is opaque, so every thumbnail is a JPEG (`<id>.thumb.jpg`).
"""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import Browser, Page, Response, expect

from tests.browser.browser_helpers import (
    ConsoleWatch,
    Images,
    add_session,
    image_row,
    open_app,
    solid_png,
    upload_directly,
    upload_row,
)
from tests.support import RunningServer


def big_jpeg(width: int, height: int, shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 120, 200 - shade)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def record_image_responses(page: Page) -> list[Response]:
    seen: list[Response] = []
    page.on("response", lambda response: seen.append(response) if "/images/" in response.url else None)
    return seen


def test_the_list_loads_thumbnails_with_a_srcset(page: Page, server: RunningServer) -> None:
    nodes = [
        upload_directly(server, f"thumb-{index}.jpg", big_jpeg(1600, 1200, 40 * index))
        for index in range(3)
    ]
    seen = record_image_responses(page)
    open_app(page, server, "?view=images")
    for index, node in enumerate(nodes):
        img = image_row(page, f"thumb-{index}.jpg").locator(".thumb__img")
        expect(img).to_have_attribute("loading", "lazy")
        expect(img).to_have_attribute("sizes", "(max-width: 680px) 56px, 48px")
        thumbnail = str(node["url"]).rsplit(".", 1)[0] + ".thumb.jpg"
        expect(img).to_have_attribute("srcset", f"{thumbnail} 512w, {node['url']} 1600w")
        # width/height keep the image's shape (4:3) inside the 56 px box: no layout jump.
        expect(img).to_have_attribute("width", "56")
        expect(img).to_have_attribute("height", "42")
    page.wait_for_load_state("networkidle")
    listed = {response.url for response in seen}
    assert {str(node["url"]).rsplit(".", 1)[0] + ".thumb.jpg" for node in nodes} <= listed
    assert not any(str(node["url"]) in listed for node in nodes), "a preview loaded an original"
    for response in seen:
        assert response.status == 200
        assert response.headers["content-type"] == "image/jpeg"

    # The viewer shows the display file itself.
    image_row(page, "thumb-0.jpg").locator(".thumb").click()
    expect(page.locator("#viewer-img")).to_have_attribute("src", str(nodes[0]["url"]))
    expect(page.locator("#viewer-img")).to_have_js_property("complete", True)
    assert str(nodes[0]["url"]) in {response.url for response in seen}


def test_upload_results_preview_the_thumbnail(
    page: Page, server: RunningServer, images: Images
) -> None:
    path = images.make("upload-thumb.jpg", big_jpeg(1200, 1600, 90))
    seen = record_image_responses(page)
    open_app(page, server)
    page.set_input_files("#file-input", [str(path)])
    row = upload_row(page, "upload-thumb.jpg")
    expect(row).to_have_attribute("data-state", "done")
    expect(row).to_have_class(re.compile(r"\bhas-preview\b"))
    urls = [response.url for response in seen]
    assert len(urls) == 1 and urls[0].endswith(".thumb.jpg"), urls


def test_high_dpi_screens_still_get_the_thumbnail_for_small_boxes(
    browser: Browser, server: RunningServer, console: ConsoleWatch
) -> None:
    node = upload_directly(server, "retina.png", solid_png(2000, 1000))
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=2)
    try:
        add_session(context, server)
        page = context.new_page()
        page.on("console", console.on_console)
        page.on("pageerror", console.on_page_error)
        open_app(page, server, "?view=images")
        img = image_row(page, "retina.png").locator(".thumb__img")
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("(el) => el.currentSrc").endswith(".thumb.jpg")
        assert str(node["url"]) != img.evaluate("(el) => el.currentSrc")
        assert console.unexpected() == []
    finally:
        context.close()
