"""Fixtures for the real-browser tests: a running `imagehost serve`, Debian's Chromium, test images.

The servers and the browser start once per module (well under a second each); every test gets a
fresh browser context and page, which records console errors and uncaught exceptions and fails
the test at teardown if any appeared that the test did not expect. `page` is signed in as the
admin of the server the test uses (`server` or `small_server`); `new_page` makes more pages,
signed in as anyone or no one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.browser.browser_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ConsoleWatch,
    Images,
    add_session,
    make_images,
)
from tests.support import ADMIN, ADMIN_PASSWORD, RunningServer, require_tool, run_serve

SERVER_FIXTURES = ("server", "small_server")


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    return make_images(tmp_path_factory.mktemp("images-to-upload"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A real `imagehost serve` with the default limits, shared by one test module."""
    with run_serve(tmp_path_factory.mktemp("serve")) as running:
        yield running


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with tight limits: 200 kB a file, one file a request, one million pixels."""
    with run_serve(
        tmp_path_factory.mktemp("serve-small"),
        max_upload_bytes="200000",
        max_files="1",
        max_pixels="1000000",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_tool(CHROMIUM)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()


def new_context(browser: Browser) -> BrowserContext:
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, locale="en-GB", timezone_id="UTC"
    )
    context.set_default_timeout(10_000)
    return context


def watched_page(context: BrowserContext, console: ConsoleWatch) -> Page:
    page = context.new_page()
    page.on("console", console.on_console)
    page.on("pageerror", console.on_page_error)
    return page


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Browser, console: ConsoleWatch) -> Iterator[Page]:
    """A fresh desktop-sized page, signed in as the admin of the test's server, whose console
    must stay free of errors."""
    context = new_context(browser)
    try:
        for name in SERVER_FIXTURES:
            if name in request.fixturenames:
                add_session(context, request.getfixturevalue(name), ADMIN, ADMIN_PASSWORD)
                break
        yield watched_page(context, console)
        assert console.unexpected() == [], "the page logged errors"
    finally:
        context.close()


NewPage = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser, console: ConsoleWatch) -> Iterator[NewPage]:
    """Make pages in fresh contexts: `new_page(server, "alice", "password")` signed in as alice,
    `new_page(server)` signed out. All share the test's console watch."""
    contexts: list[BrowserContext] = []

    def make(server: RunningServer, username: str | None = None, password: str = "") -> Page:
        context = new_context(browser)
        contexts.append(context)
        if username is not None:
            add_session(context, server, username, password)
        return watched_page(context, console)

    try:
        yield make
        assert console.unexpected() == [], "a page logged errors"
    finally:
        for context in contexts:
            context.close()
