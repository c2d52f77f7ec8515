"""Screenshots of both views, desktop and phone width, saved in tests/browser/artifacts/."""

from __future__ import annotations

from playwright.sync_api import Page, ViewportSize, expect

from tests.browser.browser_helpers import ARTIFACTS, Images, open_app
from tests.support import RunningServer

PHONE: ViewportSize = {"width": 390, "height": 844}


def test_screenshots_of_both_views(page: Page, server: RunningServer, images: Images) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    open_app(page, server)
    notes = images.make("meeting-notes.pdf", b"%PDF-1.4\n%%EOF\n")
    page.set_input_files(
        "#file-input",
        [str(images.jpeg.path), str(images.png.path), str(images.gif.path), str(notes)],
    )
    expect(page.locator('#uploads .upload[data-state="done"]')).to_have_count(3)
    expect(page.locator('#uploads .upload[data-state="error"]')).to_have_count(1)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(ARTIFACTS / "upload-desktop.png"), full_page=True)

    page.get_by_role("link", name="Images", exact=False).first.click()
    expect(page.locator("#images-body .image-row")).to_have_count(3)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(ARTIFACTS / "images-desktop.png"), full_page=True)

    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], (
        "wider than a phone"
    )
    page.screenshot(path=str(ARTIFACTS / "images-phone.png"), full_page=True)

    # At phone width the top bar shows icons; their links keep their names.
    expect(page.get_by_role("link", name="GraphQL playground")).to_be_visible()
    expect(page.get_by_role("link", name="Imagehost")).to_be_visible()
    page.get_by_role("link", name="Upload", exact=True).click()
    expect(page.locator("#view-upload")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], (
        "wider than a phone"
    )
    page.screenshot(path=str(ARTIFACTS / "upload-phone.png"), full_page=True)

    for name in ("upload-desktop", "images-desktop", "images-phone", "upload-phone"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000
