"""The Images view: what it lists, paging, copying a URL (deleting: test_browser_delete.py)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.browser_helpers import (
    ConsoleWatch,
    assert_same_picture,
    Images,
    fetch_bytes,
    image_row,
    open_app,
    solid_png,
    total_count,
    upload_directly,
)
from tests.support import RunningServer


def test_lists_images_uploaded_by_another_client(
    page: Page, server: RunningServer, images: Images
) -> None:
    open_app(page, server)
    node = upload_directly(server, "from-a-script.jpg", images.jpeg.data)
    page.get_by_role("link", name="Images", exact=False).first.click()
    row = image_row(page, "from-a-script.jpg")
    expect(row).to_have_count(1)
    expect(row.locator(".cell-type")).to_have_text("JPEG")
    expect(row.locator(".url-field")).to_have_value(str(node["url"]))
    expect(row.locator(".cell-time")).to_have_text("just now")
    expect(row.locator(".delete-button")).to_have_accessible_name("Delete from-a-script.jpg")

    # Listed while the view is open: the Refresh button asks again.
    upload_directly(server, "later.png", images.png.data)
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#images-body .image-row").first.locator(".cell-name")).to_have_text(
        "later.png"
    )
    expect(page.locator("#images-count")).to_have_text(f"{total_count(server)} images")


def test_pages_with_the_apis_cursors(page: Page, server: RunningServer) -> None:
    for index in range(5):
        upload_directly(server, f"page-{index}.png", solid_png(40 + index, 30))
    total = total_count(server)
    assert total >= 5
    open_app(page, server, "?view=images&pageSize=2")
    rows = page.locator("#images-body .image-row")
    expect(rows).to_have_count(2)
    expect(rows.first.locator(".cell-name")).to_have_text("page-4.png")  # newest first
    expect(page.locator("#images-count")).to_have_text(f"{total} images")
    more = page.get_by_role("button", name="Load more")
    shown = 2
    while shown < total:
        expect(more).to_have_text(f"Load more ({total - shown} left)")
        more.click()
        shown = min(total, shown + 2)
        expect(rows).to_have_count(shown)
    expect(more).to_be_hidden()
    names = rows.locator(".cell-name").all_inner_texts()
    assert len(set(names)) == total
    assert names.index("page-4.png") < names.index("page-0.png")


def test_copies_a_url(page: Page, server: RunningServer, images: Images) -> None:
    node = upload_directly(server, "copy-me.gif", images.gif.data)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    open_app(page, server, "?view=images")
    row = image_row(page, "copy-me.gif")
    button = row.locator(".copy-button")
    expect(button).to_have_accessible_name("Copy link to copy-me.gif")
    button.click()
    # The name a screen reader hears changes too (no static aria-label hides it).
    expect(button).to_have_accessible_name("Copied link to copy-me.gif")
    expect(button.locator(".copy-button__label")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == node["url"]
    status, served = fetch_bytes(copied)
    assert status == 200
    assert_same_picture(served, images.gif.data)
    expect(button).to_have_accessible_name("Copy link to copy-me.gif", timeout=4000)


def test_a_stopped_server_is_shown_not_a_spinner(
    page: Page, server: RunningServer, console: ConsoleWatch
) -> None:
    console.allow(r"Failed to load resource: net::ERR_CONNECTION_REFUSED")
    open_app(page, server)
    page.route("**/graphql", lambda route: route.abort("connectionrefused"))
    page.get_by_role("link", name="Images", exact=False).first.click()
    expect(page.locator("#banner")).to_be_visible()
    expect(page.locator("#banner-text")).to_have_text(
        "Could not reach the server. "
        "Check your connection or that Imagehost is running, then try again."
    )
    expect(page.locator("#images-loading")).to_be_hidden()

    page.unroute("**/graphql")
    page.get_by_role("button", name="Try again").click()
    expect(page.locator("#banner")).to_be_hidden()
    expect(page.locator("#images-count")).to_have_text(re.compile(r"^\d+ images?$"))
