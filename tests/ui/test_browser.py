"""``fsmirror ui`` as a user meets it: the command started on a free port, pages clicked in Chromium.

Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them), driven by Selenium
through /usr/bin/chromedriver: nothing is downloaded, and the flags keep Chromium off the
network. Each page is saved as a screenshot in the env's tmp dir (and in docs/img/ with
``FSMIRROR_UI_DOCS_IMG=1``).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from conftest import HOSTILE, HOSTILE_COLUMN, Store, screenshot_dirs

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(store: Store) -> Iterator[str]:
    """`fsmirror ui --port N` as a subprocess, until its first line says where it listens."""
    port = free_port()
    exe = Path(sys.executable).with_name("fsmirror")
    proc = subprocess.Popen(
        [str(exe), "--config", str(store.config), "ui", "--port", str(port)],
        cwd=store.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = f"http://127.0.0.1:{port}/"
        assert line == f"fsmirror ui: mirror 'project' at {url} (read-only; Ctrl-C stops it)\n", line + (
            proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def shoot(driver: Any, page: str) -> None:
    """The whole page (the window grown to its height) as ui-<page>.png, in each screenshot dir."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(int(height), 600), 2400))
    dirs = screenshot_dirs()
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    first = dirs[0] / f"ui-{page}.png"
    assert driver.save_screenshot(str(first))
    for d in dirs[1:]:
        shutil.copyfile(first, d / f"ui-{page}.png")
    driver.set_window_size(1280, 900)


def text(driver: Any, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def no_alert(driver: Any) -> bool:
    try:
        _ = driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def test_tree_artifact_lineage_and_search(server: str, browser: Any, store: Store) -> None:
    """Click from the tree to an artifact, into its lineage, then search a hash prefix."""
    browser.get(server)
    assert browser.title == "tree · fsmirror ui"
    tree = text(browser, "#tree")
    assert "project/etl/steps 4 run(s)" in tree
    assert "load 2 run(s)" in tree and "clean 1 run(s)" in tree and "report 1 run(s)" in tree
    shoot(browser, "tree")

    browser.find_element(
        By.XPATH, "//li[contains(@class,'series')][strong[text()='clean']]//a[text()='r1']"
    ).click()
    assert text(browser, "#address") == "project/etl/steps.py::clean"
    assert text(browser, "#run-id") == "r1"
    rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#preview tr")]
    assert rows == ["city rides", "Lima 5", "Pune 8"]
    assert text(browser, "#source-label") == f"project/etl/steps.py at commit {store.commit} (git show)"
    assert "def clean(df):" in text(browser, "#source")
    assert json.loads(text(browser, "#manifest"))["uri"] == store.uris["clean"]
    shoot(browser, "artifact")

    browser.find_element(By.ID, "lineage-link").click()
    assert text(browser, "h1") == "Lineage of project/etl/steps.py::clean"
    nodes = browser.find_elements(By.CSS_SELECTOR, "#graph svg g.node")
    assert [n.find_element(By.TAG_NAME, "text").text for n in nodes] == [
        "project/etl/steps.py::clean",
        "project/etl/steps.py::load",
        "project/etl/steps.py::report",
    ]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#graph svg line.edge")) == 2
    # drawn left to right as the data flows: load, then clean, then report
    xs = [n.find_element(By.TAG_NAME, "rect").rect["x"] for n in nodes]
    assert xs[1] < xs[0] < xs[2]
    shoot(browser, "lineage")

    digest = json.loads(Path(store.uris["report"]).with_name("_out.manifest.json").read_text())["hash"]
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys(digest["digest"][:8])
    box.submit()
    assert text(browser, "#address") == "project/etl/steps.py::report"
    assert text(browser, "#hash") == f"{digest['algorithm']}:{digest['digest']}"
    assert text(browser, "#preview-note") == "no preview for the json format"
    shoot(browser, "search")


def test_stale_and_verify(server: str, browser: Any) -> None:
    browser.get(server + "stale")
    assert text(browser, "#stale-summary") == "2 of 3 latest artifact(s) stale"
    assert "input project/etl/steps.py::load has a newer run" in text(browser, "#stale")
    shoot(browser, "stale")
    browser.get(server + "verify")
    assert text(browser, "#verify-summary").startswith("verified 4 artifact(s)")
    shoot(browser, "verify")


def test_hostile_names_render_as_text(server: str, browser: Any, store: Store) -> None:
    """A run id and a column name that are <script> and rich markup: shown as typed, nothing runs."""
    browser.get(server + "artifact?" + urllib.parse.urlencode({"uri": store.uris["hostile"]}))
    assert no_alert(browser)
    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert text(browser, "#run-id") == HOSTILE
    assert [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#preview th")] == [HOSTILE_COLUMN]
    assert [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#preview td")] == ["[bold]x[/bold]"]
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys(HOSTILE)
    box.submit()
    assert no_alert(browser)
    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert HOSTILE in text(browser, "#error")
