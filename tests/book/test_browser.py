"""The built book in headless Chromium: every page typesets its math, loads its images, and
fetches nothing from outside.

Needs the built book (``make book``) and Debian's chromium, so it runs only when asked:
``make book-test`` sets ``OPTIMLAB_BOOK_TEST=1``. Asked for and unable to run, it fails; not asked
for, it is skipped (and a skip is not a pass).
"""

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from book_paths import HTML

pytestmark = pytest.mark.skipif(os.environ.get("OPTIMLAB_BOOK_TEST") != "1",
                                reason="browser test of the built book: run `make book-test`")

# Namespace and DTD identifiers are names, never fetched.
NAMESPACES = re.compile(r"https?://www\.w3\.org/(1998/Math/MathML|2000/svg|1999/xlink|1999/xhtml|Graphics/SVG/1\.1/DTD/svg11\.dtd)")
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)  # licence and source links in comments
URL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
RAW_TEX = re.compile(r"\\(?:frac|theta|eta|lambda|mu|kappa|beta|mathrm|begin|end|left|right|sqrt|nabla|top|le|ge)\b|\$\$|\\\(|\\\[")


def pages():
    """Every built page (``_static`` holds the theme's template fragments, not pages)."""
    return sorted(p for p in HTML.rglob("*.html") if "_static" not in p.relative_to(HTML).parts)


class _Attributes(HTMLParser):
    def __init__(self):
        super().__init__()
        self.values = []

    def handle_starttag(self, tag, attrs):
        self.values += [(tag, name, value) for name, value in attrs if value]


def test_the_book_is_built():
    assert (HTML / "index.html").exists(), "no _build/html/index.html: run `make book` first"
    names = {p.relative_to(HTML).as_posix() for p in pages()}
    assert any(n.startswith("chapters/") for n in names) and any(n.startswith("notebooks/") for n in names)


def test_no_external_urls_in_html_css_or_svg():
    offenders = []
    for page in pages():
        parser = _Attributes()
        parser.feed(page.read_text(encoding="utf-8"))
        offenders += [f"{page.relative_to(HTML)}: <{t} {n}={v!r}>" for t, n, v in parser.values
                      if n != "xmlns" and URL.search(NAMESPACES.sub("", v))]
    for path in list(HTML.rglob("*.css")) + list(HTML.rglob("*.svg")):
        text = NAMESPACES.sub("", CSS_COMMENT.sub("", path.read_text(encoding="utf-8", errors="replace")))
        offenders += [f"{path.relative_to(HTML)}: {m.group(0)}" for m in URL.finditer(text)]
    assert offenders == []


CHECK_PAGE = """async () => {
  if (window.MathJax && MathJax.startup) { await MathJax.startup.promise; }
  const images = [...document.images];
  await Promise.all(images.map(img => { img.loading = 'eager'; return img.decode().catch(() => null); }));
  const body = document.body.cloneNode(true);
  body.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
  return {
    mathNodes: document.querySelectorAll('.math').length,
    typeset: document.querySelectorAll('.math mjx-container').length,
    untypeset: [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container')).length,
    mathErrors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
    images: images.map(img => ({src: img.getAttribute('src'), ok: img.complete && img.naturalWidth > 0})),
    text: body.textContent,
  };
}"""


@pytest.fixture(scope="module")
def browser():
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    assert chromium, "chromium is not installed: `apt-get install chromium` (make book-test does it)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()


def test_every_page_in_chromium(browser):
    problems, typeset_pages = [], 0
    for page_path in pages():
        name = page_path.relative_to(HTML).as_posix()
        page = browser.new_page()
        outside, failed, errors = [], [], []

        def route(request_route):
            if request_route.request.url.startswith(("file:", "data:", "blob:", "about:")):
                request_route.continue_()
            else:
                outside.append(request_route.request.url)
                request_route.abort()

        page.route("**/*", route)
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri(), wait_until="load")
        result = page.evaluate(CHECK_PAGE)
        page.close()
        typeset_pages += result["typeset"] > 0
        if result["untypeset"] or result["mathErrors"] or result["mathNodes"] != result["typeset"]:
            problems.append(f"{name}: {result['untypeset']} math nodes not typeset, {result['mathErrors']} MathJax errors")
        raw = sorted(set(RAW_TEX.findall(result["text"])))
        if raw:
            problems.append(f"{name}: raw TeX left in the text: {raw}")
        problems += [f"{name}: image did not load: {img['src']}" for img in result["images"] if not img["ok"]]
        problems += [f"{name}: fetched from outside: {url}" for url in outside]
        problems += [f"{name}: request failed: {url}" for url in failed if url not in outside]
        problems += [f"{name}: JavaScript error: {e}" for e in errors]
    assert problems == []
    assert typeset_pages >= 2  # the check did look at typeset math
