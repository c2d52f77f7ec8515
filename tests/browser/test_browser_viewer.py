"""The image viewer: opened from a row or an upload result, keyboard, snippets, deep links."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, ViewportSize, expect

from tests.browser.browser_helpers import (
    ARTIFACTS,
    Images,
    image_row,
    open_app,
    solid_png,
    upload_directly,
    upload_row,
)
from tests.support import RunningServer

PHONE: ViewportSize = {"width": 390, "height": 844}


def image_param(page: Page) -> str | None:
    values = parse_qs(urlsplit(page.url).query).get("image")
    return values[0] if values else None


def test_opens_from_a_row_steps_with_the_keyboard_and_escape_returns_focus(
    page: Page, server: RunningServer, images: Images
) -> None:
    oldest = upload_directly(server, "viewer-a.png", solid_png(300, 200))
    middle = upload_directly(server, "viewer-b.jpg", images.jpeg.data)
    newest = upload_directly(server, "viewer-c.gif", images.gif.data)
    open_app(page, server, "?view=images")
    viewer = page.get_by_role("dialog")
    expect(viewer).to_have_count(0)

    image_row(page, "viewer-b.jpg").locator(".cell-name").click()
    expect(viewer).to_be_visible()
    expect(viewer).to_have_accessible_name("viewer-b.jpg")
    expect(page.locator("#viewer-img")).to_have_attribute("src", str(middle["url"]))
    expect(page.locator("#viewer-type")).to_have_text("JPEG")
    expect(page.locator("#viewer-size")).not_to_be_empty()
    expect(page.locator("#viewer-dims")).to_have_text(re.compile(r"^\d+ × \d+$"))
    expect(page.locator("#viewer-date")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    assert image_param(page) == middle["id"]  # the open image is in the address
    expect(page.locator("#viewer-img")).to_have_js_property("complete", True)
    assert page.evaluate("document.querySelector('#viewer-img').naturalWidth") > 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer-desktop.png"))

    # Newest first: the right arrow goes to the older image, the left one back.
    page.keyboard.press("ArrowRight")
    expect(viewer).to_have_accessible_name("viewer-a.png")
    assert image_param(page) == oldest["id"]
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(viewer).to_have_accessible_name("viewer-c.gif")
    expect(page.get_by_role("button", name="Previous image")).to_be_disabled()
    page.get_by_role("button", name="Next image").click()
    expect(viewer).to_have_accessible_name("viewer-b.jpg")

    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(page).not_to_have_url(re.compile(r"[?&]image="))
    # Focus is back on the row of the image that was shown.
    expect(image_row(page, "viewer-b.jpg").locator(".thumb")).to_be_focused()
    # And the keyboard opens it again from there.
    page.keyboard.press("Enter")
    expect(viewer).to_have_accessible_name("viewer-b.jpg")
    page.get_by_role("button", name="Close").click()
    expect(viewer).to_be_hidden()
    expect(image_row(page, "viewer-b.jpg").locator(".thumb")).to_be_focused()
    assert newest["id"] != middle["id"]


def test_opens_from_an_upload_result_and_copies_escaped_snippets(
    page: Page, server: RunningServer, images: Images
) -> None:
    # Chromium sends `"` in a file name as %22 (the HTML spec's form encoding), so no quotes.
    name = "a [tricky] *name* <b> & 'single'.png"
    path = images.make(name, solid_png(320, 240))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    open_app(page, server)
    page.set_input_files("#file-input", [str(path)])
    row = upload_row(page, "a [tricky]")
    expect(row).to_have_attribute("data-state", "done")
    url = row.locator(".url-field").input_value()
    row.get_by_role("button", name=f"View {name}").click()
    viewer = page.get_by_role("dialog")
    expect(viewer).to_have_accessible_name(name)
    expect(page.locator("#viewer-img")).to_have_attribute("src", url)

    expected = {
        "URL": url,
        "Markdown": "![a \\[tricky\\] \\*name\\* \\<b\\> \\& 'single'](" + url + ")",
        "HTML": f'<img src="{url}" alt="a [tricky] *name* &lt;b&gt; &amp; &#39;single&#39;"'
        ' width="320" height="240">',
        "BBCode": f"[img]{url}[/img]",
    }
    for kind, text in expected.items():
        expect(viewer.get_by_label(kind, exact=True)).to_have_value(text)
        button = viewer.locator(f'[data-copy="{kind.lower()}"]')
        expect(button).to_have_accessible_name(f"Copy {kind}")
        button.click()
        expect(button).to_have_accessible_name(f"Copied {kind}")
        assert page.evaluate("navigator.clipboard.readText()") == text

    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(row.locator(".upload__thumb")).to_be_focused()


def test_a_deep_link_opens_an_image_that_is_not_on_the_loaded_page(
    page: Page, server: RunningServer, images: Images
) -> None:
    wanted = upload_directly(server, "deep-linked.png", solid_png(120, 80))
    for index in range(2):
        upload_directly(server, f"newer-{index}.png", solid_png(60, 60))
    open_app(page, server, f"?view=images&pageSize=1&image={wanted['id']}")
    viewer = page.get_by_role("dialog")
    expect(viewer).to_be_visible()
    expect(viewer).to_have_accessible_name("deep-linked.png")
    expect(page.locator("#viewer-dims")).to_have_text("120 × 80")
    expect(image_row(page, "deep-linked.png")).to_have_count(0)  # only the newest is listed
    page.reload()
    expect(viewer).to_have_accessible_name("deep-linked.png")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(page.locator("#view-images")).to_be_visible()

    # A link to an image that is not there says so, and leaves the address clean.
    open_app(page, server, "?view=images&image=doesnotexist")
    expect(page.locator("#toast .toast__text")).to_have_text(
        "That image does not exist, or was deleted."
    )
    expect(viewer).to_be_hidden()
    expect(page).not_to_have_url(re.compile(r"[?&]image="))


def test_the_viewer_at_phone_width(page: Page, server: RunningServer, images: Images) -> None:
    upload_directly(server, "phone-view.jpg", images.jpeg.data)
    page.set_viewport_size(PHONE)
    open_app(page, server, "?view=images")
    image_row(page, "phone-view.jpg").locator(".thumb").click()
    viewer = page.get_by_role("dialog")
    expect(viewer).to_be_visible()
    expect(page.locator("#viewer-img")).to_have_js_property("complete", True)
    box = viewer.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]
    for button in viewer.locator(".copy-button").all():
        inner = button.bounding_box()
        assert inner is not None and inner["x"] + inner["width"] <= PHONE["width"]
    expect(page.get_by_role("button", name="Next image")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer-phone.png"))
