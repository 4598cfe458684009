"""Every page of the built book, opened in headless Chromium with no network.

Needs ``_build/html`` (``make build``) and Debian's ``chromium``; driven by the
pip ``playwright`` package (``playwright install`` cannot download browsers
here, so the system browser is used).  Each page must load with no request
leaving 127.0.0.1, no failed request, no console error beyond the allow-list
below, its math typeset by the book's own MathJax, and its widgets rendered.
"""
from __future__ import annotations

import functools
import http.server
import re
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import IN_CI, require

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Known harmless noise, each with the reason it is harmless.
ALLOWED_CONSOLE_ERRORS = [
    # sphinx-thebe 0.3.1 declares `THEBE_JS_URL` twice on every page; thebe is disabled here.
    re.compile(r"^pageerror: Identifier 'THEBE_JS_URL' has already been declared"),
    # pydata-sphinx-theme finds no stored light/dark choice on a first visit (a fresh browser
    # profile), logs this and falls back to "auto"; sphinx-book-theme offers no default to set.
    re.compile(r"^Got invalid theme mode: \. Resetting to auto\.$"),
    # The console's echo of a failed request; the request itself is checked against
    # ALLOWED_FAILED_URLS, so only the favicon's 404 gets through.
    re.compile(r"^Failed to load resource: the server responded with a status of 404"),
]
ALLOWED_FAILED_URLS = [
    # Chromium asks every site for /favicon.ico; the book has no favicon.
    re.compile(r"^http://127\.0\.0\.1:\d+/favicon\.ico$"),
]

PAGES = sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
               if "_static" not in p.parts and "_sources" not in p.parts) if HTML.exists() else []


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    if not HTML.exists():
        if IN_CI:
            pytest.fail("_build/html is missing: run `make build` before the browser test")
        pytest.skip("_build/html is missing: run `make build` first")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"chromium not found at {CHROMIUM}: apt-get install chromium")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    sync_api = require("playwright.sync_api", "browser test; install the 'test' extra")
    with tempfile.TemporaryDirectory() as profile, sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield context
        context.close()


class PageProblems:
    """Collects what goes wrong while a page loads."""

    def __init__(self, page, base: str):
        self.base = base
        self.external: list[str] = []
        self.failed: list[str] = []
        self.console: list[str] = []
        self.pending: set = set()
        page.on("request", self._on_request)
        page.on("requestfinished", lambda r: self.pending.discard(r))
        page.on("requestfailed", lambda r: self.pending.discard(r))
        page.on("requestfailed", lambda r: self._fail(r.url, r.failure or "failed"))
        page.on("response", lambda r: r.status >= 400 and self._fail(r.url, r.status))
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self._console(f"pageerror: {e}"))

    def _on_request(self, request):
        self.pending.add(request)
        url = request.url
        if not (url.startswith(self.base) or url.startswith(("data:", "blob:", "about:"))):
            self.external.append(url)

    def _fail(self, url, why):
        if not any(p.search(url) for p in ALLOWED_FAILED_URLS):
            self.failed.append(f"{url} ({why})")

    def _on_console(self, msg):
        if msg.type == "error":
            self._console(msg.text)

    def _console(self, text):
        if not any(p.search(text) for p in ALLOWED_CONSOLE_ERRORS):
            self.console.append(text)


def settle(page, problems, quiet_ms=500, timeout_ms=20000):
    """Wait until no request has been in flight for ``quiet_ms``.

    Playwright's "networkidle" can miss the idle moment on a slow machine and then
    time out although every request finished; counting requests ourselves cannot.
    """
    quiet = waited = 0
    while quiet < quiet_ms:
        assert waited < timeout_ms, f"requests still pending: {[r.url for r in problems.pending]}"
        page.wait_for_timeout(100)
        waited += 100
        quiet = quiet + 100 if not problems.pending else 0


def open_page(browser, server, name):
    page = browser.new_page()
    problems = PageProblems(page, server)
    page.goto(server + name, wait_until="load")
    settle(page, problems)
    return page, problems


def wait_for_texts(page, element, texts, timeout_ms=5000) -> str:
    """Wait until ``element`` shows every one of ``texts``; return its text."""
    page.wait_for_function("([el, ts]) => ts.every(t => el.innerText.includes(t))",
                           arg=[element, list(texts)], timeout=timeout_ms)
    return element.inner_text()


def toc_pages() -> list[str]:
    """Every page named in _toc.yml (root and chapters), as built HTML paths."""
    text = (ROOT / "_toc.yml").read_text()
    names = re.findall(r"^\s*(?:root|- file):\s*(\S+)", text, flags=re.MULTILINE)
    return [f"{name}.html" for name in names]


@pytest.mark.browser
def test_every_toc_page_was_built():
    pages = toc_pages()
    assert "book/intro.html" in pages and len(pages) >= 10, pages
    missing = [p for p in pages if p not in PAGES]
    assert not missing, f"pages in _toc.yml but not built: {missing}"


@pytest.mark.browser
@pytest.mark.parametrize("name", PAGES)
def test_page_works_offline(browser, server, name):
    page, problems = open_page(browser, server, name)
    try:
        n_math = page.locator(".math").count()
        if n_math:
            page.wait_for_function("() => window.MathJax && window.MathJax.startup"
                                   " && window.MathJax.startup.promise", timeout=20000)
            page.evaluate("() => window.MathJax.startup.promise")
            assert page.evaluate("() => window.MathJax.version").startswith("3.")
            typeset = page.locator(".math mjx-container").count()
            assert typeset == n_math, f"{typeset} of {n_math} math elements typeset"
            text = page.locator("main").inner_text()
            assert "\\(" not in text and "$$" not in text, "raw TeX left on the page"
        n_views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
        if n_views:
            page.wait_for_selector(".jupyter-widgets", timeout=20000)
            rendered = page.locator(".jupyter-widgets.widget-container, .jupyter-widgets"
                                    ".widget-inline-hbox, .jupyter-widgets.widget-box").count()
            assert rendered >= n_views, f"{rendered} widget views rendered, {n_views} expected"
        settle(page, problems)
        assert not problems.external, f"requests left 127.0.0.1: {problems.external}"
        assert not problems.failed, f"failed requests: {problems.failed}"
        assert not problems.console, f"console errors: {problems.console}"
    finally:
        page.close()


@pytest.mark.browser
def test_sliding_window_explorer_responds(browser, server):
    """Moving the slider in the static page shows the next precomputed frame."""
    page, problems = open_page(browser, server, "book/convolution_by_hand.html")
    try:
        explorer = page.locator(".widget-vbox").filter(has_text="position (0, 0)").first
        explorer.wait_for(timeout=20000)
        root = explorer.element_handle()  # keeps pointing at the explorer as its text changes
        assert "= 6" in root.inner_text()

        def shows(*texts):
            return wait_for_texts(page, root, texts)

        root.query_selector(".noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        text = shows("position (0, 1)")
        assert "position (0, 0)" not in text and text.rstrip().endswith("= 1")
        for _ in range(7):
            page.keyboard.press("ArrowRight")
        assert shows("position (2, 2)").rstrip().endswith("= 3")
        # The play button steps through the frames by itself, back from the start.
        page.keyboard.press("Home")
        shows("position (0, 0)")
        root.query_selector("button").click()
        shows("position (0, 2)")
        assert not problems.console, problems.console
    finally:
        page.close()


@pytest.mark.browser
def test_conv_settings_explorer_responds(browser, server):
    """Choosing a setting in the static page shows its explorer, whose slider then works."""
    page, problems = open_page(browser, server, "book/convolution_layer.html")
    try:
        explorer = (page.locator(".widget-vbox").filter(has=page.locator("select"))
                    .filter(has_text="position (0, 0)").first)
        explorer.wait_for(timeout=20000)
        root = explorer.element_handle()

        def shows(*texts):
            return wait_for_texts(page, root, texts)

        text = shows("output 3×3", "position (0, 0)")
        assert text.rstrip().endswith("= 6") and "never read" not in text
        select = root.query_selector("select")
        select.select_option(label="kernel 2×2, stride 2, padding 0 → 2×2")
        # 2×2 windows at stride 2 never reach the last row and column of the 5×5 input
        text = shows("output 2×2", "never read")
        assert "output 3×3" not in text and text.rstrip().endswith("= 2")
        root.query_selector(".noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        assert shows("position (0, 1)").rstrip().endswith("= 3")
        # "same" for an even kernel: padding only at the bottom and right; the last window
        # holds X[4, 4] = 1 and three zeros
        select.select_option(
            label="kernel 2×2, stride 1, padding 'same' = 0 before, 1 after → 5×5")
        shows("output 5×5", "position (0, 0)")
        root.query_selector(".noUi-handle").focus()
        page.keyboard.press("End")
        text = shows("position (4, 4)")
        assert text.rstrip().endswith("1·1 + 0·0 + 0·0 + 0·1 = 1")
        assert not problems.console, problems.console
    finally:
        page.close()


@pytest.mark.browser
def test_notebook_pages_offer_download_and_launch_links():
    """Each chapter page links its .ipynb (download) and opens it on Binder and Colab."""
    notebooks = [p for p in toc_pages() if (ROOT / p).with_suffix(".ipynb").exists()]
    assert len(notebooks) >= 12, notebooks
    for page in notebooks:
        html = (HTML / page).read_text(encoding="utf-8")
        source = page.removesuffix(".html") + ".ipynb"
        assert f'href="../_sources/{source}"' in html, f"{page}: no .ipynb download link"
        assert (HTML / "_sources" / source).exists(), f"{page}: the .ipynb is not served"
        assert "mybinder.org/v2/gh/" in html and f"urlpath=lab/tree/{source}" in html, page
        assert "colab.research.google.com/github/" in html and f"/blob/main/{source}" in html, page
