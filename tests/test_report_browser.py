"""The rendered report in a real browser: headless Chromium driven by selenium.

Every table and image must render (no broken image, no console error) and a
name from a spec must stay text.  Skips, saying why, only where no Chromium
or chromedriver can be found (CI installs the Debian packages ``chromium`` and
``chromium-driver``; ``.ci/run`` does it when they are missing).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.report import render_report
from test_report import full_run, hand_run, write_run
from test_report_examples import coin_run  # noqa: F401  (a fixture: a run whose artifacts are in the cache)

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DRIVERS = ("chromedriver", "chromium-driver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1000")
EVIL = "<script>alert(1)</script>"


def _found(names: tuple[str, ...]) -> str | None:
    return next((path for path in map(shutil.which, names) if path), None)


@pytest.fixture()
def browser(tmp_path):
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _found(BROWSERS), _found(DRIVERS)
    if binary is None or driver_path is None:
        pytest.skip(f"no headless browser: need one of {BROWSERS} and one of {DRIVERS} on PATH "
                    "(apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _open(driver, index: Path) -> None:
    driver.get(index.resolve().as_uri())
    driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")  # lazy images, if any, load too


def _errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _screenshot(driver, path: Path) -> None:
    """The whole page: the window grown to the document's height first."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(int(height) + 100, 16000))
    assert driver.save_screenshot(str(path)) and path.stat().st_size > 10_000


def test_every_table_and_image_renders(browser, tmp_path):
    index = render_report(write_run(tmp_path / "r.sqlite", full_run()), tmp_path / "report")
    _open(browser, index)
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth, i.clientWidth])")
    assert len(images) == len(list(index.parent.glob("*.png"))) == 3  # Figure 4, the attack eps and the defense sweeps
    assert all(complete and natural > 0 and shown > 0 for _, complete, natural, shown in images), images
    tables = browser.execute_script(
        "return Array.from(document.querySelectorAll('table')).map(t => [t.closest('section').id, t.rows.length, t.offsetHeight])")
    assert len(tables) >= 12
    assert all(rows >= 2 and height > 0 for _, rows, height in tables if _ != "provenance"), tables
    ids = {t[0] for t in tables}
    assert {"t-mnist5k-table1", "t-mnist5k-table3", "t-mnist5k-table2", "t-mnist5k-table4", "t-mnist5k-adaptive"} <= ids
    best = browser.execute_script("return document.querySelectorAll('#t-mnist5k-table3 td.best').length")
    assert best > 0
    timing = browser.execute_script(
        "const t = document.querySelector('#t-mnist5k-table2 table');"
        "const heads = Array.from(t.tHead.rows[0].cells).map(c => c.textContent);"
        "return Array.from(t.tBodies[0].rows).filter(r => r.cells.length > 1).map("
        "  r => Object.fromEntries(heads.map((h, i) => [h, r.cells[i].textContent])))")
    aid = next(r for r in timing if r["Classifier"] == "natural" and r["Defense"] == "aid")
    assert (aid["Batch 1 (ms/img)"], aid["Batch 256 (img/s)"], aid["Training (s)"]) == ("4.0000", "2,000", "12.5")
    settings = browser.execute_script("return document.querySelector('#t-mnist5k-attacks').textContent")
    assert settings.count("ours, not the paper's") == 1  # mnist5k's attack presets are said to be ours
    assert _errors(browser) == []
    _screenshot(browser, tmp_path / "report.png")


def test_partial_report_renders_without_errors(browser, tmp_path):
    index = render_report(write_run(tmp_path / "r.sqlite", hand_run(pending=True)), tmp_path / "report")
    _open(browser, index)
    missing = browser.execute_script("return Array.from(document.querySelectorAll('td.missing')).map(td => td.textContent)")
    assert "pending" in missing and "failed" in missing
    assert _errors(browser) == []


def test_a_script_in_a_name_is_shown_as_text(browser, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException

    index = render_report(write_run(tmp_path / "r.sqlite", full_run(EVIL, defense_label=EVIL)), tmp_path / "report")
    _open(browser, index)
    assert browser.execute_script("return document.getElementById('run-name').textContent") == EVIL
    assert browser.title == f"purebench report: {EVIL}"
    assert browser.execute_script("return document.scripts.length") == 0
    cells = browser.execute_script("return Array.from(document.querySelectorAll('td')).map(td => td.textContent)")
    assert EVIL in cells
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    assert _errors(browser) == []


def test_the_example_grid_renders_with_its_images(browser, coin_run, tmp_path):  # noqa: F811
    index = render_report(coin_run, tmp_path / "report", examples=True)
    _open(browser, index)
    grids = browser.execute_script(
        "return Array.from(document.querySelectorAll('img')).filter(i => i.getAttribute('src').startsWith('examples-'))"
        ".map(i => [i.getAttribute('src'), i.complete, i.naturalWidth, i.clientWidth])")
    assert len(grids) == 1, grids  # one defense stack besides none
    assert all(complete and natural > 0 and shown > 0 for _, complete, natural, shown in grids), grids
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('section[id^=\"t-examples-\"] tbody tr')).map(r => r.cells[1].textContent)")
    assert rows and set(rows) <= {"defense wins", "defense loses"}
    assert _errors(browser) == []
    _screenshot(browser, tmp_path / "examples.png")
