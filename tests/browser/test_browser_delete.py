"""Delete with an undo window: the row goes at once, the server-side delete only after the window."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from tests.browser.browser_helpers import (
    ARTIFACTS,
    Images,
    fetch_bytes,
    image_ids,
    image_row,
    open_app,
    record_operations,
    solid_png,
    total_count,
    upload_directly,
)
from tests.support import RunningServer

UNDO_WINDOW_S = 5.0  # frontend/js/deletion.js UNDO_WINDOW_MS


def count_text(count: int) -> str:
    return f"{count} image{'' if count == 1 else 's'}"


def wait_until_gone(server: RunningServer, image_id: str, within_s: float) -> float:
    """Seconds until the server no longer lists `image_id` (fails after `within_s`)."""
    start = time.monotonic()
    while image_id in image_ids(server):
        assert time.monotonic() - start < within_s, f"{image_id} still stored after {within_s} s"
        time.sleep(0.1)
    return time.monotonic() - start


def test_undo_restores_the_row_without_any_request(
    page: Page, server: RunningServer, images: Images
) -> None:
    node = upload_directly(server, "undo-me.png", images.png.data)
    before = total_count(server)
    open_app(page, server, "?view=images")
    deletes = record_operations(page, "DeleteImage")
    row = image_row(page, "undo-me.png")
    expect(page.locator("#images-count")).to_have_text(count_text(before))
    row.get_by_role("button", name="Delete undo-me.png").click()
    expect(row).to_have_count(0)
    expect(page.locator("#images-count")).to_have_text(
        count_text(before - 1)
    )
    expect(page.locator("#toast .toast__text")).to_have_text("Deleted undo-me.png")
    undo = page.locator("#toast").get_by_role("button", name="Undo")
    expect(undo).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "delete-undo-desktop.png"))
    # Inside the window the server still has it.
    assert total_count(server) == before
    assert fetch_bytes(str(node["url"]))[0] == 200
    undo.click()
    expect(row).to_have_count(1)
    expect(page.locator("#images-count")).to_have_text(count_text(before))
    expect(page.locator("#announce-status")).to_have_text("Restored undo-me.png.")
    page.wait_for_timeout(UNDO_WINDOW_S * 1000 + 500)  # past the window: nothing is sent
    assert deletes == []
    assert total_count(server) == before
    assert fetch_bytes(str(node["url"]))[0] == 200
    expect(row).to_have_count(1)


def test_without_undo_the_server_deletes_after_the_window(
    page: Page, server: RunningServer, images: Images
) -> None:
    node = upload_directly(server, "delete-me.png", images.png.data)
    open_app(page, server, "?view=images")
    deletes = record_operations(page, "DeleteImage")
    image_row(page, "delete-me.png").get_by_role("button", name="Delete delete-me.png").click()
    clicked = time.monotonic()
    expect(image_row(page, "delete-me.png")).to_have_count(0)
    page.wait_for_timeout((UNDO_WINDOW_S - 1.5) * 1000)  # (lets Playwright deliver request events)
    assert str(node["id"]) in image_ids(server), "deleted before the undo window ended"
    assert deletes == []
    wait_until_gone(server, str(node["id"]), within_s=4.0)
    after = time.monotonic() - clicked
    assert UNDO_WINDOW_S - 1.0 < after < UNDO_WINDOW_S + 3.0
    expect(page.locator("#toast")).not_to_have_class(re.compile(r"\bis-visible\b"))
    assert len(deletes) == 1
    assert fetch_bytes(str(node["url"]))[0] == 404
    expect(page.locator("#toast")).not_to_have_class(re.compile(r"\bis-visible\b"))
    # A refresh does not bring it back.
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#images-count")).to_have_text(count_text(total_count(server)))
    expect(image_row(page, "delete-me.png")).to_have_count(0)


def test_leaving_the_page_sends_the_delete_at_once(page: Page, server: RunningServer) -> None:
    node = upload_directly(server, "leave-me.png", solid_png(50, 50))
    open_app(page, server, "?view=images")
    image_row(page, "leave-me.png").get_by_role("button", name="Delete leave-me.png").click()
    expect(page.locator("#toast .toast__text")).to_have_text("Deleted leave-me.png")
    assert str(node["id"]) in image_ids(server)
    page.goto("about:blank")  # pagehide: the delete is sent with keepalive
    seconds = wait_until_gone(server, str(node["id"]), within_s=3.0)
    assert seconds < UNDO_WINDOW_S - 1.0


def test_a_refresh_during_the_window_does_not_bring_the_row_back(
    page: Page, server: RunningServer
) -> None:
    upload_directly(server, "refresh-during.png", solid_png(52, 52))
    open_app(page, server, "?view=images")
    total = total_count(server)
    image_row(page, "refresh-during.png").get_by_role(
        "button", name="Delete refresh-during.png"
    ).click()
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#images-refresh")).to_be_enabled()
    expect(image_row(page, "refresh-during.png")).to_have_count(0)
    expect(page.locator("#images-count")).to_have_text(
        count_text(total - 1)
    )
    page.locator("#toast").get_by_role("button", name="Undo").click()
    expect(image_row(page, "refresh-during.png")).to_have_count(1)


def test_delete_from_the_viewer_shows_the_next_image(
    page: Page, server: RunningServer
) -> None:
    upload_directly(server, "viewer-keep.png", solid_png(70, 40))
    gone = upload_directly(server, "viewer-delete.png", solid_png(40, 70))
    open_app(page, server, "?view=images")
    image_row(page, "viewer-delete.png").locator(".thumb").click()
    viewer = page.get_by_role("dialog")
    expect(viewer).to_have_accessible_name("viewer-delete.png")
    viewer.get_by_role("button", name="Delete viewer-delete.png").click()
    expect(viewer).to_have_accessible_name("viewer-keep.png")
    expect(page.locator("#toast .toast__text")).to_have_text("Deleted viewer-delete.png")
    expect(image_row(page, "viewer-delete.png")).to_have_count(0)
    assert str(gone["id"]) in image_ids(server)
    # The toast is usable over the modal viewer (it moves into the dialog while it is open).
    undo = viewer.get_by_role("button", name="Undo")
    expect(undo).to_be_visible()
    undo.click()
    expect(image_row(page, "viewer-delete.png")).to_have_count(1)
    expect(page.locator("#announce-status")).to_have_text("Restored viewer-delete.png.")
    page.get_by_role("button", name="Previous image").click()
    expect(viewer).to_have_accessible_name("viewer-delete.png")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(image_row(page, "viewer-delete.png").locator(".thumb")).to_be_focused()
    expect(page.locator("body > #live-regions")).to_have_count(1)
    assert str(gone["id"]) in image_ids(server)
