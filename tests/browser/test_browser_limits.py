"""Tight limits: what the page refuses before sending, and what the server refuses."""

from __future__ import annotations

import json

from playwright.sync_api import Page, Route, expect

from tests.browser.browser_helpers import (
    ConsoleWatch,
    Images,
    noise_png,
    open_app,
    record_multipart_posts,
    solid_png,
    total_count,
    upload_row,
)
from tests.support import RunningServer


def test_page_shows_the_servers_limits(page: Page, small_server: RunningServer) -> None:
    open_app(page, small_server)
    expect(page.locator("#upload-limits")).to_have_text(
        "JPEG, PNG, GIF, WebP, AVIF or HEIC · up to 195 KiB each"
    )


def test_too_large_is_refused_before_sending(
    page: Page, small_server: RunningServer, images: Images
) -> None:
    big = images.make("big-noise.png", noise_png(300, 300))  # ~270 kB, over the 200 kB limit
    assert len(big.read_bytes()) > 200_000
    before = total_count(small_server)
    open_app(page, small_server)
    sent = record_multipart_posts(page)
    page.set_input_files("#file-input", [str(big)])
    row = upload_row(page, "big-noise.png")
    expect(row).to_have_attribute("data-state", "error")
    expect(row.locator(".upload__error-text")).to_have_text(
        f"big-noise.png is {row.locator('.upload__meta').inner_text()}; "
        "the limit is 195 KiB per file."
    )
    page.wait_for_timeout(300)
    assert sent == []
    assert total_count(small_server) == before


def test_server_side_refusal_is_shown(
    page: Page, small_server: RunningServer, images: Images
) -> None:
    # Few bytes but 1.2 million pixels: only the server can tell (it decodes the header).
    wide = images.make("too-many-pixels.png", solid_png(1200, 1000))
    open_app(page, small_server)
    sent = record_multipart_posts(page)
    page.set_input_files("#file-input", [str(wide)])
    row = upload_row(page, "too-many-pixels.png")
    expect(row).to_have_attribute("data-state", "error")
    expect(row.locator(".upload__error-text")).to_contain_text("too-many-pixels.png")
    expect(row.locator(".upload__error-text")).not_to_have_text("")
    assert len(sent) == 1


def test_whole_request_refusal_is_shown_with_the_servers_message(
    page: Page, small_server: RunningServer, images: Images, console: ConsoleWatch
) -> None:
    """A page that believes in a bigger limit (an old tab) shows the server's 413 in words."""
    console.allow(r"status of 413")

    def lie_about_limits(route: Route) -> None:
        if "uploadLimits" not in (route.request.post_data or ""):
            route.continue_()
            return
        response = route.fetch()
        body = response.json()
        body["data"]["uploadLimits"]["maxUploadBytes"] = 50 * 1024 * 1024
        route.fulfill(response=response, body=json.dumps(body))

    page.route("**/graphql", lie_about_limits)
    huge = images.make("huge-noise.png", noise_png(900, 900))  # ~2.4 MB, over the whole-body cap
    open_app(page, small_server)
    expect(page.locator("#upload-limits")).to_contain_text("up to 50 MiB each")
    with page.expect_response(lambda response: response.request.method == "POST") as refusal:
        page.set_input_files("#file-input", [str(huge)])
    assert refusal.value.status == 413
    error = refusal.value.json()["errors"][0]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    row = upload_row(page, "huge-noise.png")
    expect(row).to_have_attribute("data-state", "error")
    expect(row.locator(".upload__error-text")).to_have_text(error["message"])
    expect(row.locator(".upload__retry")).to_be_hidden()
