"""Open real report pages in headless Chromium (selenium): every image renders, the console is clean, injected
markup shows as text.

``.ci/run`` installs Debian's ``chromium`` and ``chromium-driver`` when they are missing; elsewhere these tests skip
with the reason. The demo report is the one the README's own demo command wrote (``readme_run`` fixture); the
hostile report is built here from ``section.json`` files a stranger could have edited.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scalescope.report import build_report
from scalescope.report.style import new_figure, savefig

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
selenium = pytest.importorskip("selenium", reason="selenium is a dev dependency (pip install -e '.[dev]')")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="needs chromium + chromedriver (apt-get install chromium chromium-driver)")

INJECT = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    drv.set_page_load_timeout(120)
    yield drv
    drv.quit()


def _open(browser, page: Path):
    browser.get(page.resolve().as_uri())
    browser.get_log("browser")  # nothing from earlier pages
    browser.refresh()
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('alt'), i.complete, i.naturalWidth]);")
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    return images, errors


def _hostile_sections(root: Path) -> Path:
    good = root / "good"
    good.mkdir(parents=True)
    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    savefig(fig, good / "line.png")
    (good / "t.csv").write_text(f"name,value\n{INJECT},1\n", encoding="utf-8")
    secret = root / "secret.png"
    secret.write_bytes((good / "line.png").read_bytes())
    (good / "leak.png").symlink_to(secret)
    (good / "section.json").write_text(json.dumps({
        "title": f"Title {INJECT}", "kind": "<script>window.__pwned=2</script>", "summary": f"Summary {INJECT}",
        "figures": [{"path": "line.png", "caption": f"caption {INJECT}"},
                    {"path": str(secret), "caption": "absolute path"},
                    {"path": "../secret.png", "caption": "parent path"},
                    {"path": "leak.png", "caption": "symlink out of the folder"}],
        "tables": [{"path": "t.csv", "caption": f"table {INJECT}"}],
        "metrics": {f"metric {INJECT}": f"value {INJECT}"},
    }), encoding="utf-8")
    return build_report([root / "good"], root / "out" / "index.html")


def test_hostile_report_shows_injected_markup_as_text(browser, tmp_path):
    page = _hostile_sections(tmp_path)
    images, errors = _open(browser, page)
    assert browser.execute_script("return window.__pwned === undefined")
    body = browser.find_element("tag name", "body").text
    assert f"Title {INJECT}" in body and f"Summary {INJECT}" in body and "<script>" in body
    # only the one legitimate figure is embedded; the three escape attempts are refused in the page, in words
    assert len(images) == 1 and images[0][1] and images[0][2] > 0, images
    assert body.count("not shown: refused") == 3
    assert errors == [], errors


def test_demo_report_renders_every_image(browser, readme_run):
    work, _ = readme_run
    images, errors = _open(browser, work / "demo-out" / "index.html")
    assert len(images) >= 30
    broken = [alt for alt, complete, width in images if not (complete and width > 0)]
    assert broken == []
    assert errors == [], errors
