"""Switching between the Upload and Images views: no reloads, and the address bar follows."""

from __future__ import annotations

import re

from playwright.sync_api import Page, Route, expect

from tests.browser.browser_helpers import ARTIFACTS, ConsoleWatch, Images, drop_files, open_app
from tests.support import RunningServer


def test_switching_views_keeps_the_page_and_history_works(
    page: Page, server: RunningServer
) -> None:
    open_app(page, server)
    expect(page.locator("#view-upload")).to_be_visible()
    expect(page).to_have_title("Upload · Imagehost")
    page.evaluate("window.__marker = 'still the same page'")

    page.get_by_role("link", name=re.compile("^Images")).click()
    expect(page).to_have_url(server.url + "/?view=images")
    expect(page.locator("#view-images")).to_be_visible()
    expect(page.locator("#view-upload")).to_be_hidden()
    expect(page.get_by_role("link", name=re.compile("^Images"))).to_have_attribute(
        "aria-current", "page"
    )
    expect(page).to_have_title("Images · Imagehost")
    expect(page.locator("#images-title")).to_be_focused()

    page.get_by_role("link", name="Upload", exact=True).click()
    expect(page).to_have_url(server.url + "/")
    expect(page.locator("#view-upload")).to_be_visible()

    page.go_back()
    expect(page).to_have_url(server.url + "/?view=images")
    expect(page.locator("#view-images")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(server.url + "/")
    expect(page.locator("#view-upload")).to_be_visible()
    page.go_forward()
    expect(page.locator("#view-images")).to_be_visible()
    assert page.evaluate("window.__marker") == "still the same page"

    page.reload()
    expect(page.locator("#view-images")).to_be_visible()
    expect(page.locator("#view-upload")).to_be_hidden()
    assert page.evaluate("window.__marker") is None  # a reload is a new page, and it kept the view


def test_empty_images_view_says_so(page: Page, server: RunningServer) -> None:
    open_app(page, server, "?view=images")
    empty = page.locator("#images-empty")
    expect(empty).to_be_visible()
    expect(empty).to_contain_text("No images yet")
    expect(page.locator("#images-count")).to_have_text("0 images")
    expect(page.locator("#images-table")).to_be_hidden()
    expect(page.locator("#images-more")).to_be_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "images-empty-desktop.png"))
    empty.get_by_role("link", name="Upload images").click()
    expect(page.locator("#view-upload")).to_be_visible()
    expect(page).to_have_url(server.url + "/")


def test_graphql_playground_is_linked(page: Page, server: RunningServer) -> None:
    open_app(page, server)
    link = page.get_by_role("link", name="GraphQL playground")
    expect(link).to_have_attribute("href", "/graphql")
    response = page.request.get(server.url + "/graphql", headers={"Accept": "text/html"})
    assert response.status == 200
    assert "text/html" in response.headers["content-type"]


def test_every_control_has_an_accessible_name(page: Page, server: RunningServer) -> None:
    open_app(page, server)
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll(
                'button, a[href], input:not([type=file]), [role=button], [tabindex="0"]')]
            .filter((el) => el.closest('template') === null && el.getClientRects().length > 0)
            .filter((el) => !(el.getAttribute('aria-label') || el.textContent.trim()
                || el.getAttribute('title')))
            .map((el) => el.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []


STRICT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def test_works_under_a_strict_content_security_policy(
    page: Page, server: RunningServer, images: Images, console: ConsoleWatch
) -> None:
    """Nginx will send a CSP: no inline script or style, no eval, nothing from elsewhere.

    Violations show up as console errors, which the `page` fixture refuses.
    """

    def with_csp(route: Route) -> None:
        response = route.fetch()
        route.fulfill(
            response=response, headers={**response.headers, "content-security-policy": STRICT_CSP}
        )

    page.route(server.url + "/", with_csp)
    page.route(server.url + "/?*", with_csp)
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    open_app(page, server)
    drop_files(page, "#dropzone", [(images.png.name, images.png.data, images.png.content_type)])
    row = page.locator("#uploads .upload").first
    expect(row).to_have_attribute("data-state", "done")
    expect(row).to_have_class(re.compile(r"\bhas-preview\b"))
    page.get_by_role("link", name=re.compile("^Images")).click()
    expect(page.locator("#images-body .image-row")).not_to_have_count(0)
    page.get_by_role("link", name="Upload", exact=True).click()
    assert violations == []
