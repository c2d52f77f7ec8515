"""Phone width and screen readers: cards hold their buttons, live regions exist from the start."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, ViewportSize, expect

from tests.browser.browser_helpers import (
    ARTIFACTS,
    Images,
    image_row,
    open_app,
    upload_directly,
    upload_row,
)
from tests.support import RunningServer

PHONE: ViewportSize = {"width": 390, "height": 844}


def assert_inside(inner: Locator, outer: Locator) -> None:
    """`inner`'s box lies within `outer`'s (to the pixel)."""
    a, b = inner.bounding_box(), outer.bounding_box()
    assert a is not None and b is not None
    assert a["x"] >= b["x"] - 0.5 and a["y"] >= b["y"] - 0.5, (a, b)
    assert a["x"] + a["width"] <= b["x"] + b["width"] + 0.5, (a, b)
    assert a["y"] + a["height"] <= b["y"] + b["height"] + 0.5, (a, b)


def test_copy_buttons_stay_inside_their_cards_at_390_px(
    page: Page, server: RunningServer, images: Images
) -> None:
    long_name = images.make(
        "a-rather-long-file-name-from-a-phone-camera-IMG_20240101_123456789.jpg",
        images.jpeg.data,
    )
    page.set_viewport_size(PHONE)
    open_app(page, server)
    page.set_input_files("#file-input", [str(long_name), str(images.png.path)])
    expect(page.locator('#uploads .upload[data-state="done"]')).to_have_count(2)
    for row in page.locator("#uploads .upload").all():
        assert_inside(row.locator(".copy-button"), row)
        assert_inside(row.locator(".url-field"), row)
        # After a copy the label changes ("Copied", or "Press Ctrl+C" without clipboard access).
        row.locator(".copy-button").click()
        expect(row.locator(".copy-button")).not_to_have_accessible_name(re.compile("^Copy link"))
        assert_inside(row.locator(".copy-button"), row)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "upload-done-phone.png"), full_page=True)

    upload_directly(server, "x" * 120 + ".png", images.png.data)
    page.get_by_role("link", name="Images", exact=False).first.click()
    rows = page.locator("#images-body .image-row")
    expect(rows.first).to_be_visible()
    for row in rows.all():
        assert_inside(row.locator(".copy-button"), row)
        assert_inside(row.locator(".delete-button"), row)
        assert_inside(row, page.locator("#view-images .table-wrap"))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(ARTIFACTS / "images-cards-phone.png"), full_page=True)


def test_live_regions_are_in_the_page_from_the_start(page: Page, server: RunningServer) -> None:
    open_app(page, server)
    for selector, role in (
        ("#announce-alert", "alert"),
        ("#announce-status", "status"),
        ("#toast .toast__text", "status"),
    ):
        region = page.locator(selector)
        expect(region).to_have_attribute("role", role)
        expect(region).to_have_attribute("aria-live", "assertive" if role == "alert" else "polite")
        # Rendered (so assistive technology tracks it) though it shows nothing yet.
        assert region.evaluate(
            """(el) => {
                for (let node = el; node; node = node.parentElement) {
                    if (node.hidden || getComputedStyle(node).display === 'none'
                        || getComputedStyle(node).visibility === 'hidden') return false;
                }
                return true;
            }"""
        ), f"{selector} is hidden when the page loads"
        expect(region).to_be_empty()
    # No page-wide region is hidden until it changes (a view's own count shows with its view).
    hidden_live = page.evaluate(
        """() => [...document.querySelectorAll('[aria-live], [role=alert], [role=status]')]
            .filter((el) => el.closest('template, [data-view]') === null)
            .filter((el) => el.closest('[hidden]') !== null)
            .map((el) => el.id || el.className)"""
    )
    assert hidden_live == []


def test_errors_are_announced_through_the_live_region(
    page: Page, server: RunningServer, images: Images
) -> None:
    notes = images.make("notes.pdf", b"%PDF-1.4\n%%EOF\n")
    open_app(page, server)
    page.set_input_files("#file-input", [str(notes)])
    expect(upload_row(page, "notes.pdf")).to_have_attribute("data-state", "error")
    expect(page.locator("#announce-alert")).to_contain_text(
        "notes.pdf is not an image this server takes"
    )


def test_the_copy_buttons_name_says_copied(
    page: Page, server: RunningServer, images: Images
) -> None:
    upload_directly(server, "name-says.png", images.png.data)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    open_app(page, server, "?view=images")
    button = image_row(page, "name-says.png").locator(".copy-button")
    expect(button).not_to_have_attribute("aria-label", "Copy link to name-says.png")
    expect(button).to_have_accessible_name("Copy link to name-says.png")
    button.click()
    expect(button).to_have_accessible_name("Copied link to name-says.png")
