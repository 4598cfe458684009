"""Every page of the built book in headless Chromium, with no network, on a laptop and a phone.

Needs ``_build/html`` (``make build``; or the folder named by ``CNNLAB_BOOK_HTML``, e.g. the
student edition's ``_build/student/html``), Debian's ``chromium`` and npm's ``axe-core``
(``make vendor``).  Driven by the pip ``playwright`` package (``playwright install`` cannot
download browsers here, so the system browser is used).

Each page is opened in a fresh browser context (an empty cache) at 1280×800 ("laptop") and at
390×844 with touch ("phone"), served the way a static host serves it (text compressed with
gzip), and must:

* make no request that leaves 127.0.0.1 or fails, and log no console error or warning;
* typeset all its math with the book's own MathJax, leaving no raw TeX; render its widgets;
* never scroll sideways as a whole, and clip no block: printed results wrap; on a laptop
  nothing in the text is wider than the column; on a phone a table or equation that is wider
  scrolls in its own box, with a visible cue, and can be reached with the keyboard;
* give every content image alt text that says what it shows (not a file name) and a link to
  the full-size image;
* have no serious or critical accessibility violation found by axe-core (see ACCEPTED_AXE);
* fit its widget controls on the phone's screen;
* open its navigation: on a phone the visible ☰ opens the chapter menu and the contents
  button the page's table of contents; on a laptop ☰ hides and shows the chapter menu;
* weigh, with everything it loads, at most 1.5 MB (4 MB with widgets) as transferred.

The laptop runs also report each page's time to first paint and to typeset math.
"""
from __future__ import annotations

import functools
import gzip
import http.server
import io
import json
import os
import re
import shutil
import sys
import threading
from pathlib import Path

import pytest

from conftest import IN_CI, require

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("CNNLAB_BOOK_HTML", ROOT / "_build" / "html"))
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

SIZES = {
    "laptop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
# Bytes transferred for a page and everything it loads (text compressed as a static host
# such as GitHub Pages sends it; PNG and font files as they are).
MAX_BYTES = 1_500_000
MAX_BYTES_WITH_WIDGETS = 4_000_000

# Console errors and warnings that are allowed, each with its reason.  Empty: every message
# the pages used to log had a cause in the book or its toolchain, which is fixed.
ALLOWED_CONSOLE: list[re.Pattern] = []

# axe-core rules whose serious or critical findings are accepted, each with its reason.
ACCEPTED_AXE: dict[str, str] = {}

PAGES = sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
               if "_static" not in p.parts and "_sources" not in p.parts) if HTML.exists() else []
# Redirect stubs carry no content (index.html sends the reader to the intro page).
CONTENT_PAGES = [p for p in PAGES if p != "index.html"]

TIMINGS: dict[str, tuple[float, float | None]] = {}


# --- serving ---------------------------------------------------------------------------------
class _StaticHost(http.server.SimpleHTTPRequestHandler):
    """Serves files as a static host does: text gzip-compressed when the browser accepts it."""

    COMPRESSED = {".html", ".css", ".js", ".svg", ".json", ".txt", ".ipynb", ".md"}

    def log_message(self, *args):
        pass

    @staticmethod
    @functools.lru_cache(maxsize=512)
    def _gzip(path: str, mtime: float) -> bytes:
        return gzip.compress(Path(path).read_bytes(), compresslevel=6, mtime=0)

    def send_head(self):
        path = self.translate_path(self.path)
        if (os.path.isfile(path) and Path(path).suffix in self.COMPRESSED
                and "gzip" in self.headers.get("Accept-Encoding", "")):
            body = self._gzip(path, os.path.getmtime(path))
            self.send_response(200)
            self.send_header("Content-Type", self.guess_type(path))
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return io.BytesIO(body)
        return super().send_head()


@pytest.fixture(scope="module")
def server():
    if not HTML.exists():
        if IN_CI:
            pytest.fail(f"{HTML} is missing: run `make build` before the browser test")
        pytest.skip(f"{HTML} is missing: run `make build` first")
    handler = functools.partial(_StaticHost, directory=str(HTML))
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
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


def timing_report() -> list[str]:
    """Lines of the report that tests/conftest.py prints after the tests."""
    if not TIMINGS:
        return []
    lines = ["time to first paint and to typeset math, laptop size (ms; - = no math):"]
    for name, (paint, math) in sorted(TIMINGS.items()):
        math_ms = "     -" if math is None else f"{math:6.0f}"
        lines.append(f"  {paint:6.0f}  {math_ms}  {name}")
    return lines


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        if IN_CI:
            pytest.fail(f"{AXE} is missing: run `make vendor` (npm ci)")
        pytest.skip("axe-core is not installed: run `make vendor` (npm ci)")
    return AXE.read_text(encoding="utf-8")


# --- one page --------------------------------------------------------------------------------
class PageLog:
    """Requests, their sizes and console messages of one page."""

    def __init__(self, page, base: str):
        self.base = base
        self.external: list[str] = []
        self.failed: list[str] = []
        self.console: list[str] = []
        self.pending: set = set()
        self.transferred: dict[str, int] = {}
        page.on("request", self._on_request)
        page.on("requestfinished", self._on_finished)
        page.on("requestfailed", self._on_failed)
        page.on("response", lambda r: r.status >= 400 and self.failed.append(
            f"{r.url} ({r.status})"))
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self._console(f"pageerror: {e}"))

    def _on_request(self, request):
        self.pending.add(request)
        if not request.url.startswith((self.base, "data:", "blob:", "about:")):
            self.external.append(request.url)

    def _on_finished(self, request):
        self.pending.discard(request)
        try:
            self.transferred[request.url] = request.sizes()["responseBodySize"]
        except Exception:  # the page closed meanwhile
            pass

    def _on_failed(self, request):
        self.pending.discard(request)
        self.failed.append(f"{request.url} ({request.failure})")

    def _on_console(self, msg):
        if msg.type in ("error", "warning"):
            self._console(f"{msg.type}: {msg.text}")

    def _console(self, text):
        if not any(p.search(text) for p in ALLOWED_CONSOLE):
            self.console.append(text)


def settle(page, log: PageLog, quiet_ms=500, timeout_ms=30000):
    """Wait until no request has been in flight for ``quiet_ms``."""
    quiet = waited = 0
    while quiet < quiet_ms:
        assert waited < timeout_ms, f"requests still pending: {[r.url for r in log.pending]}"
        page.wait_for_timeout(100)
        waited += 100
        quiet = quiet + 100 if not log.pending else 0


# Records when MathJax has typeset the page (performance.now(), ms).
MATH_CLOCK = """(() => {
  const t = setInterval(() => {
    const mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) {
      clearInterval(t);
      mj.startup.promise.then(() => { window.__mathTypesetAt = performance.now(); });
    }
  }, 5);
})();"""


def open_page(browser, server, name, size="laptop"):
    context = browser.new_context(**SIZES[size])
    context.add_init_script(MATH_CLOCK)
    page = context.new_page()
    log = PageLog(page, server)
    page.goto(server + name, wait_until="load")
    if page.locator(".math").count():
        page.wait_for_function("() => window.__mathTypesetAt !== undefined", timeout=30000)
    page.wait_for_function("() => document.documentElement.dataset.scrollCues === 'ready'",
                           timeout=30000)
    settle(page, log)
    page.wait_for_timeout(200)   # book.js re-checks the layout after MathJax
    return context, page, log


def wait_for_texts(page, element, texts, timeout_ms=5000) -> str:
    """Wait until ``element`` shows every one of ``texts``; return its text."""
    page.wait_for_function("([el, ts]) => ts.every(t => el.innerText.includes(t))",
                           arg=[element, list(texts)], timeout=timeout_ms)
    return element.inner_text()


def toc_pages() -> list[str]:
    """Every page named in _toc.yml (root, chapters, sections), as built HTML paths."""
    text = (ROOT / "_toc.yml").read_text()
    names = re.findall(r"^\s*(?:root|-?\s*file):\s*(\S+)", text, flags=re.MULTILINE)
    return [f"{name}.html" for name in names]


# Blocks in the article wider than their box: (description, how it overflows, in an output,
# is code, has a cue and is focusable).
OVERFLOWS = """() => {
  const found = [];
  const article = document.querySelector('article.bd-article');
  if (!article) return found;
  for (const el of article.querySelectorAll('*')) {
    if (el.closest('mjx-assistive-mml') || el.clientWidth === 0) continue;
    if (getComputedStyle(el).visibility === 'hidden') continue;   // e.g. a closed dropdown
    if (el.scrollWidth <= el.clientWidth + 1) continue;
    if (el.tagName.startsWith('MJX-') && el.tagName !== 'MJX-CONTAINER') continue;
    const cs = getComputedStyle(el);
    const text = (el.innerText || '').trim().replace(/\\s+/g, ' ').slice(0, 70);
    found.push({
      what: `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}: "${text}"`,
      overflow: cs.overflowX,
      output: !!el.closest('div.cell_output'),
      code: el.matches('pre') && !el.closest('div.cell_output'),
      cue: el.classList.contains('is-overflowing') && el.getAttribute('tabindex') === '0',
    });
  }
  return found;
}"""

IMAGES = """() => [...document.querySelectorAll('article.bd-article img')].map(img => ({
  src: img.getAttribute('src'), alt: img.getAttribute('alt') || '',
  link: img.closest('a') ? img.closest('a').getAttribute('href') : null,
  shown: img.getBoundingClientRect().width, natural: img.naturalWidth,
}))"""

FILE_NAME = re.compile(r"\.(png|jpe?g|svg|gif)$|^[0-9a-f]{16,}|/_images/", re.IGNORECASE)


def layout_problems(page, size: str) -> list[str]:
    problems = []
    # clientWidth is the screen's width; on a phone, content wider than the screen widens
    # the layout viewport (window.innerWidth) instead of scrolling it
    width, screen = page.evaluate("() => [document.scrollingElement.scrollWidth,"
                                  " document.documentElement.clientWidth]")
    if width > screen:
        problems.append(f"the page scrolls sideways: {width} px wide on a {screen} px screen")
    for block in page.evaluate(OVERFLOWS):
        what = block["what"]
        if block["overflow"] in ("hidden", "clip"):
            problems.append(f"clipped: {what}")
        elif block["overflow"] == "visible":
            continue    # spills over: the page width check or its clipping ancestor reports it
        elif size == "laptop":
            problems.append(f"wider than the laptop column: {what}")
        # a table that a cell displays scrolls in its own box, like a table of the text
        elif block["output"] and not what.startswith(("table", "div.cell_output",
                                                      "div.pst-scrollable-table-container")):
            problems.append(f"printed result scrolls instead of wrapping: {what}")
        elif not block["cue"] and not block["code"]:
            problems.append(f"scrolls sideways without a cue or keyboard access: {what}")
        elif block["code"] and not block["cue"]:
            problems.append(f"code block scrolls but cannot be reached by keyboard: {what}")
    for img in page.evaluate(IMAGES):
        alt = img["alt"]
        if len(alt.split()) < 3 or FILE_NAME.search(alt):
            problems.append(f"image {img['src']}: alt text {alt!r} does not say what it shows")
        if "_images/" in (img["src"] or "") and not (img["link"] or "").endswith(
                img["src"].rsplit("/", 1)[-1]):
            problems.append(f"image {img['src']} does not link to its full-size file")
        if img["shown"] > 0 and img["natural"] == 0:
            problems.append(f"image {img['src']} did not load")
    return problems


def open_dropdowns(page) -> int:
    """Open every closed dropdown (solutions, hidden code); return how many."""
    opened = page.evaluate("""() => {
        const closed = [...document.querySelectorAll('.toggle-hidden .toggle-button,'
                                                     + ' details:not([open]) > summary')];
        closed.forEach(el => el.click());
        return closed.length;
    }""")
    page.wait_for_timeout(600)   # the dropdowns' animation, then book.js re-measures
    return opened


def widget_problems(page, size: str) -> list[str]:
    problems = []
    inner = page.evaluate("() => document.documentElement.clientWidth")
    controls = page.evaluate("""() => [...document.querySelectorAll(
        '.jupyter-widgets button, .jupyter-widgets select, .jupyter-widgets .noUi-handle,'
        + ' .jupyter-widgets input, .jupyter-widgets .widget-slider')].map(el => {
          const r = el.getBoundingClientRect();
          return {what: el.outerHTML.slice(0, 80), left: r.left, right: r.right,
                  width: r.width, name: el.getAttribute('aria-label') || el.title
                  || (el.labels && el.labels[0] && el.labels[0].innerText) || el.innerText};
        })""")
    for c in controls:
        if c["width"] and (c["left"] < 0 or c["right"] > inner + 0.5):
            problems.append(f"widget control outside the {inner} px screen: {c['what']}")
    sliders = page.evaluate("""() => [...document.querySelectorAll(
        '.jupyter-widgets .widget-slider .noUi-target')].map(el => ({
          width: el.getBoundingClientRect().width,
          steps: Number(el.querySelector('.noUi-handle').getAttribute('aria-valuemax'))
                 - Number(el.querySelector('.noUi-handle').getAttribute('aria-valuemin'))}))""")
    for s in sliders:
        if s["steps"] > 0 and s["width"] / s["steps"] < 6:
            problems.append(f"slider track {s['width']:.0f} px for {s['steps']} steps: "
                            "too short to pick a position")
    return problems


def axe_problems(page, axe_source: str) -> list[str]:
    page.add_script_tag(content=axe_source)
    violations = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [f"axe {v['id']} ({v['impact']}): {v['help']} at {v['nodes']}"
            for v in violations
            if v["impact"] in ("serious", "critical") and v["id"] not in ACCEPTED_AXE]


def navigation_problems(page, size: str) -> list[str]:
    problems = []
    primary = page.locator(".primary-toggle:visible")
    if primary.count() != 1:
        return [f"{primary.count()} visible ☰ buttons, expected 1"]
    sidebar = page.locator(".bd-sidebar-primary")

    def on_screen(locator) -> bool:
        box = locator.bounding_box()
        return bool(locator.is_visible() and box and box["x"] >= -1 and box["width"] > 100
                    and box["x"] + box["width"] <= page.viewport_size["width"] + 1)

    if size == "phone":
        if on_screen(sidebar):
            problems.append("the chapter menu is open before ☰ is pressed")
        primary.click()
        page.wait_for_timeout(500)
        if not on_screen(sidebar):
            problems.append("☰ does not open the chapter menu")
        elif sidebar.locator("a.reference.internal").count() < 10:
            problems.append("the chapter menu lists fewer than 10 pages")
        page.keyboard.press("Escape")
        page.mouse.click(page.viewport_size["width"] - 10, 400)   # on the overlay
        page.wait_for_timeout(400)
        secondary = page.locator(".secondary-toggle:visible")
        if secondary.count():
            secondary.first.click()
            page.wait_for_timeout(500)
            if not on_screen(page.locator(".bd-sidebar-secondary")):
                problems.append("the contents button does not open the page's contents")
        elif page.locator(".bd-sidebar-secondary .toc-entry").count():
            problems.append("the page has contents but no visible button to open them")
    else:
        before = on_screen(sidebar)
        primary.click()
        page.wait_for_timeout(500)
        if on_screen(sidebar) == before:
            problems.append("☰ neither hides nor shows the chapter menu")
    return problems


# --- the tests -------------------------------------------------------------------------------
@pytest.mark.browser
def test_every_toc_page_was_built():
    pages = toc_pages()
    assert "book/intro.html" in pages and len(pages) >= 10, pages
    missing = [p for p in pages if p not in PAGES]
    assert not missing, f"pages in _toc.yml but not built: {missing}"


@pytest.mark.browser
def test_no_source_maps():
    maps = [p.relative_to(HTML).as_posix() for p in HTML.rglob("*.map")]
    assert not maps, f"source maps in the built book: {maps}"
    sys.path.insert(0, str(ROOT / "tools"))
    from book_ext import SOURCE_MAP_COMMENT

    refs = [p.relative_to(HTML).as_posix() for p in (HTML / "_static").rglob("*")
            if p.suffix in (".js", ".css") and SOURCE_MAP_COMMENT.search(p.read_bytes())]
    assert not refs, f"files that point at source maps: {refs}"


@pytest.mark.browser
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("name", CONTENT_PAGES)
def test_page(browser, server, axe_source, name, size):
    context, page, log = open_page(browser, server, name, size)
    problems = []
    try:
        n_math = page.locator(".math").count()
        if n_math:
            assert page.evaluate("() => window.MathJax.version").startswith("3.")
            typeset = page.locator(".math mjx-container").count()
            if typeset != n_math:
                problems.append(f"{typeset} of {n_math} math elements typeset")
            text = page.locator("main").inner_text()
            if "\\(" in text or "\\[" in text or "$$" in text:
                problems.append("raw TeX left on the page")
        n_views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
        if n_views:
            page.wait_for_selector(".jupyter-widgets", timeout=30000)
            rendered = page.locator(".jupyter-widgets.widget-container, .jupyter-widgets"
                                    ".widget-inline-hbox, .jupyter-widgets.widget-box").count()
            if rendered < n_views:
                problems.append(f"{rendered} widget views rendered, {n_views} expected")
            problems += widget_problems(page, size)
        problems += layout_problems(page, size)
        problems += axe_problems(page, axe_source)
        if open_dropdowns(page):   # what the solutions and hidden code show, when opened
            problems += [f"opened: {p}" for p in layout_problems(page, size)]
        if size == "laptop":
            paint = page.evaluate("() => (performance.getEntriesByName('first-contentful-paint')"
                                  "[0] || {startTime: NaN}).startTime")
            TIMINGS[name] = (paint, page.evaluate("() => window.__mathTypesetAt ?? null"))
        total = sum(log.transferred.values())
        limit = MAX_BYTES_WITH_WIDGETS if n_views else MAX_BYTES
        if total > limit:
            biggest = sorted(log.transferred.items(), key=lambda kv: -kv[1])[:5]
            problems.append(f"the page transfers {total:,} bytes, more than {limit:,}: "
                            f"{[(u.replace(server, ''), n) for u, n in biggest]}")
        problems += navigation_problems(page, size)
        settle(page, log)
        if log.external:
            problems.append(f"requests left 127.0.0.1: {log.external}")
        if log.failed:
            problems.append(f"failed requests: {log.failed}")
        if log.console:
            problems.append(f"console errors or warnings: {log.console}")
    finally:
        context.close()
    assert not problems, f"{name} at {size} size:\n  " + "\n  ".join(problems)


@pytest.mark.browser
def test_math_stays_hidden_until_typeset(browser, server):
    """Without MathJax (here: its script blocked), the TeX source is not shown at first."""
    name = "book/convolution_layer.html"
    context = browser.new_context(**SIZES["laptop"])
    page = context.new_page()
    try:
        page.route("**/mathjax/**", lambda route: route.abort())
        page.goto(server + name, wait_until="domcontentloaded")
        hidden = page.evaluate("""() => [...document.querySelectorAll('.math')].map(el =>
            [getComputedStyle(el).visibility, getComputedStyle(el).animationDelay])""")
        assert len(hidden) > 10
        assert all(h == ["hidden", "8s"] for h in hidden), hidden[:5]
    finally:
        context.close()


@pytest.mark.browser
def test_sliding_window_explorer_responds(browser, server):
    """Moving the slider in the static page shows the next precomputed frame."""
    context, page, log = open_page(browser, server, "book/convolution_by_hand.html")
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
        root.query_selector("button[aria-label='Play']").click()
        shows("position (0, 2)")
        assert not log.console, log.console
    finally:
        context.close()


@pytest.mark.browser
def test_conv_settings_explorer_responds(browser, server):
    """Choosing a setting in the static page shows its explorer, whose slider then works."""
    context, page, log = open_page(browser, server, "book/convolution_layer.html")
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
        assert not log.console, log.console
    finally:
        context.close()


def repository_url() -> str:
    import yaml

    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]


def needs_clone(notebook: Path) -> str | None:
    meta = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]
    return meta.get("cnnlab", {}).get("needs_clone")


@pytest.mark.browser
def test_notebook_pages_offer_download_repository_and_launch_links():
    """Each chapter links its .ipynb, the repository, Binder, and Colab where it can run."""
    url = repository_url()
    org_repo = url.removeprefix("https://github.com/")
    notebooks = [p for p in toc_pages() if (ROOT / p).with_suffix(".ipynb").exists()]
    assert len(notebooks) >= 12, notebooks
    no_colab = []
    for page in notebooks:
        html = (HTML / page).read_text(encoding="utf-8")
        source = page.removesuffix(".html") + ".ipynb"
        up = "../" * page.count("/")  # book/x.html -> ../, book/labs/x.html -> ../../
        assert f'href="{up}_sources/{source}"' in html, f"{page}: no .ipynb download link"
        assert (HTML / "_sources" / source).exists(), f"{page}: the .ipynb is not served"
        assert f'href="{url}"' in html, f"{page}: no repository button linking {url}"
        assert f"mybinder.org/v2/gh/{org_repo}/" in html, page
        assert f"urlpath=lab/tree/{source}" in html, page
        colab = f"colab.research.google.com/github/{org_repo}/blob/main/{source}"
        if needs_clone(ROOT / source):
            assert "colab.research.google.com" not in html, f"{page} cannot run on Colab"
            no_colab.append(page)
        else:
            assert colab in html, f"{page}: no Colab link"
    assert no_colab, "no page is marked as needing a clone (notebook metadata cnnlab.needs_clone)"


@pytest.mark.browser
def test_the_repository_is_named_where_a_reader_looks():
    url = repository_url()
    intro = (HTML / "book" / "intro.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", intro)   # the code block's syntax highlighting splits it
    assert f"git clone {url}" in text, "the intro's clone command does not name the repository"
    assert "{{ repository_url }}" not in intro
    assert url in (ROOT / "README.md").read_text(encoding="utf-8"), "README.md does not link it"
