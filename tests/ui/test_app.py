"""The web view through Flask's test client: fast, no browser (tests/ui/test_browser.py drives one)."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import HOSTILE, HOSTILE_COLUMN, Store
from fsmirror import FSMirror
from fsmirror.cli import cli
from fsmirror.web import create_app
from fsmirror.web.svg import Box, draw


def client(store: Store) -> Any:
    return create_app(FSMirror(config=str(store.config), mirror="project")).test_client()


def artifact_links(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="(/artifact\?uri=[^"]+)"', html)]


def test_tree_lists_what_ls_lists(store: Store) -> None:
    """The tree page links exactly the artifacts `fsmirror ls --json` lists, with its run counts."""
    got = client(store).get("/")
    assert got.status_code == 200
    ls = CliRunner().invoke(cli, ["--config", str(store.config), "ls", "--json"])
    assert ls.exit_code == 0, ls.output
    from urllib.parse import parse_qs, urlparse

    linked = [parse_qs(urlparse(h).query)["uri"][0] for h in artifact_links(got.text)]
    assert sorted(linked) == sorted(a["uri"] for a in json.loads(ls.output))
    assert sorted(linked) == sorted(store.uris.values())
    text = unescape(re.sub(r"<[^>]+>", " ", got.text))
    assert re.search(r"project/etl/steps\s+4 run\(s\)", text)
    assert re.search(r"load\s+2 run\(s\)", text)
    assert re.search(r"report\s+1 run\(s\), 2\d B", text)


def test_artifact_page_shows_manifest_preview_and_source_at_commit(store: Store) -> None:
    got = client(store).get("/artifact", query_string={"uri": store.uris["clean"]})
    assert got.status_code == 200
    html = got.text
    assert '<h1 class="mono" id="address">project/etl/steps.py::clean</h1>' in html
    assert re.search(r"<tr><td class=\"mono\">Lima</td><td class=\"mono\">5</td></tr>", html)
    assert "first 2 of 2 row(s)" in html
    assert f"project/etl/steps.py at commit {store.commit} (git show)" in html
    assert "return df[df.rides &gt; 3].reset_index(drop=True)" in html
    assert '<td class="mono" id="run-id">r1</td>' in html
    man = json.loads(unescape(re.search(r'<pre id="manifest">(.*?)</pre>', html, re.S).group(1)))
    assert man["uri"] == store.uris["clean"] and man["inputs"][0]["uri"] == store.uris["load"]


def test_source_falls_back_to_the_current_file_labelled(fresh_store: Store) -> None:
    """A checkout without the recorded commit: today's file, said to be today's."""
    import shutil

    shutil.rmtree(fresh_store.root / ".git")
    html = client(fresh_store).get("/artifact", query_string={"uri": fresh_store.uris["load"]}).text
    assert f"(this checkout has no commit {fresh_store.commit}): may differ from what ran" in html
    assert "def load():" in html


def test_store_text_is_escaped_never_markup(store: Store) -> None:
    """A run id and a column name that are HTML (and rich markup) are shown as text on every page."""
    c = client(store)
    pages = [
        c.get("/artifact", query_string={"uri": store.uris["hostile"]}).text,
        c.get("/lineage", query_string={"uri": store.uris["hostile"]}).text,
        c.get("/search", query_string={"q": HOSTILE}).text,
    ]
    for html in pages:
        assert "<script>" not in html and "alert(1)</script>" not in html
    assert f'<td class="mono" id="run-id">{"&lt;script&gt;alert(1)&lt;/script&gt;[bold]"}</td>' in pages[0]
    assert f'<th class="mono">{"&lt;script&gt;alert(1)&lt;/script&gt;"}</th>' in pages[0]
    assert "[bold]x[/bold]" in pages[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;[bold]" in pages[2]  # echoed in the search box and error
    assert unescape(re.search(r'id="run-id">(.*?)<', pages[0]).group(1)) == HOSTILE
    assert HOSTILE_COLUMN in unescape(pages[0])


def test_svg_labels_are_escaped() -> None:
    svg = str(draw([Box("k", ("<script>alert(1)</script>", '"><b>'), "/x?a=1&b=2")], []))
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "&#34;&gt;&lt;b&gt;" in svg
    assert 'href="/x?a=1&amp;b=2"' in svg


def test_lineage_page_draws_the_chain_up_and_down(store: Store) -> None:
    html = client(store).get("/lineage", query_string={"uri": store.uris["clean"]}).text
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert svg.count('<g class="node') == 3 and svg.count('<g class="node root">') == 1
    assert svg.count('<line class="edge"') == 2
    # each committed node links to its own lineage
    assert sorted(unescape(h) for h in re.findall(r'<a href="([^"]+)">', svg)) == sorted(
        "/lineage?uri=" + store.uris[k].replace("/", "%2F") for k in ("load", "clean", "report")
    )
    rows = re.findall(r"<tr><td>(\w+)</td><td class=\"mono\"><a [^>]*>([^<]+)</a>", html)
    assert rows == [
        ("this", "project/etl/steps.py::clean"),
        ("upstream", "project/etl/steps.py::load"),
        ("downstream", "project/etl/steps.py::report"),
    ]


def test_stale_and_verify_pages(fresh_store: Store) -> None:
    c = client(fresh_store)
    stale = c.get("/stale").text
    assert "2 of 3 latest artifact(s) stale" in stale
    assert "input project/etl/steps.py::load has a newer run" in stale
    assert "verified 4 artifact(s)" in c.get("/verify").text
    path = Path(fresh_store.uris["report"])
    path.write_bytes(path.read_bytes().replace(b'"rows": 2', b'"rows": 9'))  # same size, other bytes
    bad = c.get("/verify").text
    assert "1 of 4 artifact(s) do not match their manifests" in bad
    assert "MISMATCH" in bad


def test_search_takes_what_show_takes(store: Store) -> None:
    c = client(store)
    digest = json.loads(Path(store.uris["report"]).with_name("_out.manifest.json").read_text())["hash"][
        "digest"
    ]
    for q in (digest[:8], "project/etl/steps.py::report", store.uris["report"]):
        got = c.get("/search", query_string={"q": q})
        assert got.status_code == 302, q
        assert got.headers["Location"] == "/artifact?uri=" + store.uris["report"].replace("/", "%2F")
    missing = c.get("/search", query_string={"q": "project/etl/steps.py::nothing"})
    assert missing.status_code == 404 and 'id="error"' in missing.text


def test_preview_reads_csv_and_skips_what_is_too_big(
    fresh_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """csv goes through the format layer as parquet does; over PREVIEW_MAX_BYTES nothing is read."""
    import pandas as pd

    import fsmirror.web.app as web_app

    monkeypatch.setenv("FSMIRROR_RUN_ID", "r2")
    fm = FSMirror(config=str(fresh_store.config), mirror="project")
    uri = fm.write(
        "project/etl/steps.py::clean",
        pd.DataFrame({"n": range(30), "sq": [i * i for i in range(30)]}),
        format="csv",
    )
    c = client(fresh_store)
    html = c.get("/artifact", query_string={"uri": uri}).text
    assert "first 20 of 30 row(s)" in html
    assert '<tr><td class="mono">19</td><td class="mono">361</td></tr>' in html
    assert '<td class="mono">20</td>' not in html
    monkeypatch.setattr(web_app, "PREVIEW_MAX_BYTES", 100)
    html = c.get("/artifact", query_string={"uri": fresh_store.uris["load"]}).text
    assert re.search(r"no preview: 2\.\d kB is over 100 B", html) and 'id="preview"' not in html


def test_source_is_only_the_modules_own_file(fresh_store: Store) -> None:
    """A manifest edited to name /etc/passwd as its source file shows no file at all."""
    path = Path(fresh_store.uris["load"]).with_name("_out.manifest.json")
    man = json.loads(path.read_text())
    man["code"]["source_file"] = "/etc/passwd"
    path.write_text(json.dumps(man))
    html = client(fresh_store).get("/artifact", query_string={"uri": fresh_store.uris["load"]}).text
    assert '<h1 class="mono" id="address">project/etl/steps.py::load</h1>' in html
    assert "source not found on this machine (project/etl/steps.py)" in html
    assert "root:" not in html and 'id="source"' not in html


def test_every_page_forbids_scripts(store: Store) -> None:
    c = client(store)
    for url in ("/", "/stale", "/verify", "/search?q=nothing1", "/lineage?uri=" + store.uris["load"]):
        assert c.get(url).headers["Content-Security-Policy"].startswith("default-src 'none';"), url


def test_ui_without_flask_says_which_extra(store: Store) -> None:
    """Without the `ui` extra: one line naming it, exit 1, no traceback (Flask hidden from the import)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['flask'] = None; from fsmirror.cli import main; "
        f"sys.argv = ['fsmirror', '--config', {str(store.config)!r}, 'ui', '--port', '0']; main()"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    assert r.stderr.startswith("fsmirror: error: fsmirror ui needs Flask: pip install 'fsmirror[ui]'")
    assert r.stderr.count("\n") == 1
