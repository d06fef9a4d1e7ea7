r"""The documentation site: built with ``mkdocs build --strict``, then read in a real headless browser.

``python -m pytest -m site`` runs these (the plain ``python -m pytest`` leaves them out: the build
executes both notebooks). They need ``pip install -e ".[docs]"`` and a Chromium from the system's
packages (``apt-get install chromium`` on Debian and Ubuntu; or set ``CHROMIUM`` to its path);
without either, they say which is missing and are skipped. ``SITE_SCREENSHOTS=DIR`` keeps a
screenshot of each page they read.
"""
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.site, pytest.mark.xdist_group("site")]   # one worker builds the site once


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    r"""The site, built from this checkout with ``--strict``: any warning (a broken link, a missing
    reference, a notebook cell that raises) fails the build."""
    pytest.importorskip("mkdocs", reason='the site needs the docs extra: pip install -e ".[docs]"')
    folder = tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
                           cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-4000:]
    return folder


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser(site):
    r"""A headless Chromium reading the site from a local HTTP server."""
    sync_api = pytest.importorskip("playwright.sync_api", reason='needs the docs extra: pip install -e ".[docs]"')
    chromium = os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, ["chromium", "chromium-browser"])),
                                                  None)
    if chromium is None:
        pytest.skip("no Chromium found: apt-get install chromium (Debian, Ubuntu), or set CHROMIUM to its path")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        yield browser, f"http://127.0.0.1:{server.server_address[1]}/"
        browser.close()
    server.shutdown()


DESKTOP, PHONE = 1280, 390      # a laptop's window; a phone's screen (CSS pixels)


def read(browser, path, width=DESKTOP):
    r"""Load ``path`` of the site in a window ``width`` pixels wide; return the page and every problem the browser
    reported: console errors, uncaught exceptions, failed requests and HTTP errors."""
    chromium, base = browser
    page = chromium.new_page(viewport={"width": width, "height": 900})
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"exception: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url} {request.failure}"))
    page.on("response", lambda response: response.status >= 400
            and problems.append(f"HTTP {response.status}: {response.url}"))
    page.goto(base + path, wait_until="networkidle")
    if os.environ.get("SITE_SCREENSHOTS"):
        Path(os.environ["SITE_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
        name = path.strip("/").replace("/", "-") or "home"
        page.screenshot(path=Path(os.environ["SITE_SCREENSHOTS"]) / f"{name}-{width}.png", full_page=True)
    return page, problems


def images(page):
    r"""Each image of the page's content: its source and whether it loaded (has a width)."""
    return page.eval_on_selector_all("article img", "els => els.map(e => [e.src, e.complete && e.naturalWidth > 0])")


def formulas(page):
    r"""How many formulas the page shows (MathML ``math`` elements), and how many of them are displayed."""
    return page.locator("article math").count(), page.locator("article div.formula").count()


def layout_problems(page):
    r"""What a reader of the page would find wrong at this width: the page scrolls sideways; a formula, table or code
    block is cut off by a box that hides what overflows (the page's own, at the screen's edge, or a formula's too
    narrow box) or reaches past the screen's edge (what is too wide must scroll in a box of its own inside the page);
    inline code in a table that wraps inside a word (it may wrap at a space, after a ``.``, ``/``, ``_`` or ``-``,
    before a ``(``); TeX shown as text (``$``, ``\(``, ``\frac``) outside code; a figure that does not open at full
    size (a link to its own image)."""
    return page.evaluate(r"""() => {
        const problems = [];
        const width = document.documentElement.clientWidth;
        const article = document.querySelector("article");
        const name = e => `${e.tagName.toLowerCase()} "${e.textContent.trim().replace(/\s+/g, " ").slice(0, 50)}"`;
        const overflow = e => getComputedStyle(e).overflowX;
        const scrolls = e => ["auto", "scroll"].includes(overflow(e));
        const hides = e => ["hidden", "clip"].includes(overflow(e));
        const within = (inner, outer) => inner.left >= outer.left - 1 && inner.right <= outer.right + 1;
        const screen = {left: 0, right: width};
        if (document.documentElement.scrollWidth > width) {
            problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px in ${width}`);
        }
        for (const element of article.querySelectorAll("math, table, pre")) {
            // Going out from the element: a box on the screen that scrolls sideways shows all of it; a box that hides
            // what overflows it (the page's own <html> does, at the screen's edge) must hold it whole.
            const shown = element.getBoundingClientRect();
            let e = element.parentElement;
            while (e && !(scrolls(e) && within(e.getBoundingClientRect(), screen))) {
                if (hides(e) && !within(shown, e.getBoundingClientRect())) {
                    problems.push(`cut off: ${name(element)}`);
                    break;
                }
                e = e.parentElement;
            }
            if (!e && !within(shown, screen)) problems.push(`past the screen's edge: ${name(element)}`);
        }
        for (const code of article.querySelectorAll(":is(td, th) code:not(pre > code)")) {
            const text = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
            let shown = "", top;                 // the code's text with a \n where a line of it ends; that line's top
            while (text.nextNode()) {
                for (let i = 0; i < text.currentNode.length; i++) {
                    const range = document.createRange();
                    range.setStart(text.currentNode, i);
                    range.setEnd(text.currentNode, i + 1);
                    const box = range.getClientRects()[0];              // none for a collapsed space
                    if (box && top !== undefined && box.top > top + 1) shown += "\n";
                    top = box ? box.top : top;
                    shown += text.currentNode.data[i];
                }
            }
            if (/[^\s./_-]\n[^\s(]/.test(shown)) problems.push(`code wraps inside a word: ${JSON.stringify(shown)}`);
        }
        const text = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
        while (text.nextNode()) {
            const parent = text.currentNode.parentElement;
            if (parent.checkVisibility() && !parent.closest("pre, code, math, script, style")
                && /\$|\\[()\[\]]|\\[A-Za-z]+/.test(text.currentNode.textContent)) {
                problems.push(`TeX as text: "${text.currentNode.textContent.trim().slice(0, 60)}"`);
            }
        }
        for (const image of article.querySelectorAll("img:not([src*=':'])")) {
            const link = image.closest("a");
            if (!link || link.href !== image.src) problems.push(`figure not linked at full size: ${image.src}`);
        }
        return problems;
    }""")


def test_the_site_builds_with_every_page(site):
    for page in ["index.html", "math/index.html", "article/index.html", "tools/check/index.html",
                 "notebooks/backprop_side_by_side/index.html", "notebooks/write_backprop/index.html",
                 "api/manual/index.html", "api/torch_impl/index.html", "api/compare/index.html"]:
        assert (site / page).is_file(), page


def test_no_placeholder_repository_on_any_page(site):
    for page in site.rglob("*.html"):
        assert "OWNER/REPO" not in page.read_text(encoding="utf-8"), page


def test_home_page_shows_its_figure_and_links_its_reading_path(browser):
    page, problems = read(browser, "")
    assert problems == []
    assert page.locator("h1").first.inner_text().startswith("Backprop side by side")
    shown = images(page)
    assert any(src.endswith("/compare-seed1.png") and loaded for src, loaded in shown), shown
    assert all(loaded for _, loaded in shown), shown
    for target in ["article/", "math/", "agreement/", "autograd/", "tools/", "notebooks/backprop_side_by_side/"]:
        assert page.locator(f"article a[href='{target}']").count() > 0, target


def pages(site):
    r"""The address of every page of the site, from its home page."""
    return sorted(f"{page.parent.relative_to(site).as_posix()}/".removeprefix("./")
                  for page in site.rglob("index.html"))


def test_every_page_reads_well_on_a_desktop_and_on_a_phone(site, browser):
    found = {}
    for path in pages(site):
        for width in [DESKTOP, PHONE]:
            page, problems = read(browser, path, width)
            problems += layout_problems(page)
            if problems:
                found[f"{path} at {width} px"] = problems
            page.close()
    assert len(pages(site)) >= 24
    assert found == {}, found


def test_math_page_renders_every_equation(browser):
    page, problems = read(browser, "math/", PHONE)
    assert problems == []
    assert formulas(page) >= (40, 8), formulas(page)                      # 8 displayed formulas or more
    pieces = page.locator("article div.formula > span").all()              # wrapped where the TeX has a \\qquad
    assert [piece.inner_text() for piece in pieces if piece.bounding_box()["x"] + piece.bounding_box()["width"] > PHONE
            ] == []                                                        # on screen, sigma'(z) = a(1 - a) too


@pytest.mark.parametrize("path, least", [("article/", 20), ("losses/", 20), ("optimizers/", 10)])
def test_other_pages_render_their_formulas(browser, path, least):
    page, problems = read(browser, path)
    assert problems == []
    assert formulas(page)[0] >= least, formulas(page)


def test_notebook_page_shows_its_outputs_and_figures_and_links_the_notebook(browser):
    page, problems = read(browser, "notebooks/backprop_side_by_side/")
    assert problems == []
    figures = [loaded for src, loaded in images(page) if src.endswith(".png")]
    assert len(figures) >= 4 and all(figures), figures              # executed at build time: the figures are there
    text = page.locator("article").inner_text()
    assert "verdict:   AGREE" in text and "Run it yourself" in text
    assert formulas(page)[0] >= 10, formulas(page)                    # the notebook's own $...$
    with page.expect_download() as download:
        page.locator("article a[download]", has_text="backprop_side_by_side.ipynb").click()
    assert json.loads(Path(download.value.path()).read_text())["cells"]
    assert page.locator("article a[href*='colab.research.google.com']").count() == 0     # no Repository yet


def test_the_exercise_page_shows_the_stubs_without_their_errors(browser):
    page, problems = read(browser, "notebooks/write_backprop/")
    assert problems == []
    text = page.locator("article").inner_text()
    assert 'raise NotImplementedError("Linear.backward' in text and "Download write_backprop.ipynb" in text
    assert "NotImplementedError at" not in text and page.locator("article .jp-OutputArea-output").count() == 0


def test_api_page_lists_neural_network_backward_with_its_docstring(browser):
    page, problems = read(browser, "api/manual/")
    assert problems == []
    entry = page.locator("[id='manual.NeuralNetwork.backward']")
    assert entry.count() == 1
    docstring = entry.locator("xpath=following-sibling::div[1]").inner_text()
    assert "Backpropagate dL/dy_pred through every layer" in docstring


def lines_shown(block):
    r"""Each line of a code block of the page, as ``(text, highlighted)``."""
    return [tuple(line) for line in block.locator("code").evaluate("""code => {
        const lines = [];
        let text = "";
        for (const node of code.childNodes) {
            if (node.classList && node.classList.contains("hll")) {
                lines.push([node.textContent.replace(/\\n$/, ""), true]);
                continue;
            }
            const parts = (text + node.textContent).split("\\n");
            text = parts.pop();
            lines.push(...parts.map(part => [part, false]));
        }
        return text ? [...lines, [text, false]] : lines;
    }""")]


def common_length(a, b):
    r"""The length of the longest common subsequence of ``a`` and ``b``: how many lines ``diff`` leaves unmarked."""
    row = [0] * (len(b) + 1)
    for x in a:
        previous = row[:]
        for j, y in enumerate(b, 1):
            row[j] = previous[j - 1] + 1 if x == y else max(previous[j], row[j - 1])
    return row[-1]


def test_the_study_guide_shows_both_files_as_they_are_with_the_lines_that_differ_marked(browser):
    r"""Each tab shows its file's text as it is now; the unmarked lines are the same on both sides and as many as
    ``diff`` leaves unmarked; choosing a side in the first file's tabs shows that side of all three."""
    page, problems = read(browser, "article/")
    assert problems == []
    tab_sets = page.locator("article .tabbed-set")
    names = ["nn.py", "train.py", "__main__.py"]
    assert tab_sets.count() == len(names)
    shown = {}
    for side, package in enumerate(["manual", "torch_impl"]):
        tab_sets.first.locator(".tabbed-labels label").nth(side).click()
        for tabs, name in zip(tab_sets.all(), names, strict=True):
            block = tabs.locator(".tabbed-block").nth(side)
            assert block.is_visible() and block.locator(".filename").inner_text() == f"{package}/{name}"
            shown[package, name] = lines_shown(block)
            assert [text for text, _ in shown[package, name]] == (ROOT / package / name).read_text().splitlines()
    for name in names:
        manual, torch_impl = ([text for text, marked in shown[package, name] if not marked]
                              for package in ["manual", "torch_impl"])
        assert manual == torch_impl, name
        assert len(manual) == common_length(*([text for text, _ in shown[package, name]]
                                              for package in ["manual", "torch_impl"])), name


def test_the_study_guide_tabs_stay_under_the_header_in_the_middle_of_a_file_on_a_phone(browser):
    r"""Scrolled to the middle of ``nn.py`` on a phone, the reader sees its tab bar just below the header, on top of
    the code, and switches to ``torch_impl/nn.py`` by tapping it there, without leaving that place in the file."""
    page, problems = read(browser, "article/", PHONE)
    assert problems == []
    tabs = page.locator("article .tabbed-set").first
    box = tabs.bounding_box()
    page.evaluate(f"window.scrollTo(0, window.scrollY + {box['y'] + box['height'] / 2})")
    header = page.locator(".md-header").bounding_box()
    labels = tabs.locator(".tabbed-labels")
    below_header = header["y"] + header["height"]
    assert abs(labels.bounding_box()["y"] - below_header) <= 1, (header, labels.bounding_box())
    label = labels.locator("label").nth(1).bounding_box()
    x, y = label["x"] + label["width"] / 2, label["y"] + label["height"] / 2
    assert page.evaluate(f"document.elementFromPoint({x}, {y}).textContent") == "torch_impl/ (PyTorch)"
    page.mouse.click(x, y)                           # where the reader taps: no scrolling the label into view first
    shown = tabs.locator(".tabbed-block").nth(1)
    assert shown.is_visible() and shown.locator(".filename").inner_text() == "torch_impl/nn.py"
    assert abs(labels.bounding_box()["y"] - below_header) <= 1       # still in the middle of the file
    page.close()
