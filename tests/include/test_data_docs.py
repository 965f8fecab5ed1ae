"""Data Docs of a pipeline run: a complete site that loads nothing from the network."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest

from callops.quality import data_docs

pytestmark = pytest.mark.gx

RUN_ID = "scheduled__2026-03-31T00:00:00+00:00"
FAILING_DESCRIPTION = "service_level_rate is a 0-1 rate"

REMOTE = re.compile(r"^(?:https?:)?//", re.IGNORECASE)
ATTRIBUTE = re.compile(r"""\b(src|href)\s*=\s*(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
CSS_URL = re.compile(r"""url\(\s*(["']?)(.*?)\1\s*\)""", re.IGNORECASE)
ROW_LINK = re.compile(r"""'_table_row_link_path':\s*'([^']+)'""")
ASSET_EXTENSION = re.compile(r"\.(?:js|mjs|css|woff2?|ttf|otf|eot)(?:[?#].*)?$", re.IGNORECASE)
NOT_A_FILE = re.compile(r"^(?:#|data:|mailto:|javascript:)", re.IGNORECASE)


def _validate(context, gx, name: str, frame: pd.DataFrame, expectations: list):
    """As the gate does: ephemeral context, pandas DataFrame asset, one result per suite."""
    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    batch_definition = (
        context.data_sources.add_pandas(f"candidate_{name}")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("candidate")
    )
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"gate_{name}", data=batch_definition, suite=suite)
    )
    return validation.run(
        batch_parameters={"dataframe": frame},
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["queue_id"]},
    )


@pytest.fixture(scope="module")
def results():
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    frame = pd.DataFrame(
        {
            "queue_id": ["q1", "q2", "q3"],
            "offered_count": [10, 0, 4],
            "service_level_rate": [0.8, None, 1.5],
        }
    )
    intervals = _validate(
        context,
        gx,
        "fct_queue_intervals",
        frame,
        [
            gx.expectations.ExpectColumnValuesToNotBeNull(column="queue_id", notes="every interval names its queue"),
            gx.expectations.ExpectColumnValuesToBeBetween(
                column="service_level_rate",
                min_value=0,
                max_value=1,
                description=FAILING_DESCRIPTION,
                meta={"severity": "blocking"},
            ),
        ],
    )
    # A dotted suite name puts its pages one folder deeper; the KL check draws Vega charts.
    agents = _validate(
        context,
        gx,
        "marts.dim_agents",
        frame,
        [
            gx.expectations.ExpectTableRowCountToBeBetween(min_value=1, max_value=10),
            gx.expectations.ExpectColumnKLDivergenceToBeLessThan(
                column="queue_id",
                partition_object={"values": ["q1", "q2", "q3"], "weights": [0.3, 0.3, 0.4]},
                threshold=1.0,
            ),
        ],
    )
    assert not intervals.success and agents.success
    return [intervals, agents], context


@pytest.fixture(scope="module")
def site(results, tmp_path_factory) -> Path:
    from great_expectations.data_context.data_context.context_factory import project_manager

    validation_results, gate_context = results
    root = tmp_path_factory.mktemp("data_docs")
    cwd = root / "cwd"
    cwd.mkdir()
    before = os.getcwd()
    os.chdir(cwd)
    try:
        index = data_docs.write_site(validation_results, RUN_ID, root / "site")
    finally:
        os.chdir(before)
    assert index == root / "site" / "index.html"
    assert list(cwd.iterdir()) == [], "write_site wrote outside out_dir (a gx/ folder?)"
    assert sorted(p.name for p in root.iterdir()) == ["cwd", "site"]
    assert project_manager.get_current_project() is gate_context, "the caller's GX context was replaced"
    return root / "site"


def _html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def _validation_page(site: Path, suite_parts: list[str]) -> Path:
    pages = sorted(site.joinpath("validations", *suite_parts).rglob("*.html"))
    assert len(pages) == 1, pages
    return pages[0]


def test_site_has_an_index_and_a_page_per_validation_and_suite(site: Path):
    assert (site / "index.html").is_file()
    page = _validation_page(site, ["fct_queue_intervals"])
    assert page.relative_to(site).parts[:3] == ("validations", "fct_queue_intervals", RUN_ID)
    _validation_page(site, ["marts", "dim_agents"])
    assert (site / "expectations" / "fct_queue_intervals.html").is_file()
    assert (site / "expectations" / "marts" / "dim_agents.html").is_file()
    index = (site / "index.html").read_text()
    assert RUN_ID in index and "fct_queue_intervals" in index and "marts.dim_agents" in index


def test_no_page_or_stylesheet_loads_scripts_styles_or_fonts_from_the_network(site: Path):
    offenders = []
    for page in _html_files(site):
        text = page.read_text()
        for match in ATTRIBUTE.finditer(text):
            url = match.group(3).strip()
            if REMOTE.match(url) and ASSET_EXTENSION.search(url):
                offenders.append(f"{page.relative_to(site)}: {url}")
        # <script src> / <link href> of any kind (the vega CDN links had no extension).
        for tag in re.finditer(r"<(script|link)\b[^>]*>", text, re.IGNORECASE):
            for match in ATTRIBUTE.finditer(tag.group(0)):
                if REMOTE.match(match.group(3).strip()):
                    offenders.append(f"{page.relative_to(site)}: {match.group(3)}")
        offenders += [
            f"{page.relative_to(site)}: {m.group(2)}" for m in CSS_URL.finditer(text) if REMOTE.match(m.group(2))
        ]
    for sheet in sorted(site.rglob("*.css")):
        text = sheet.read_text()
        offenders += [
            f"{sheet.relative_to(site)}: {m.group(2)}" for m in CSS_URL.finditer(text) if REMOTE.match(m.group(2))
        ]
        offenders += [f"{sheet.relative_to(site)}: @import" for m in re.finditer(r"@import\s", text)]
    assert offenders == []


def test_every_local_reference_resolves(site: Path):
    missing, checked = [], 0
    for page in _html_files(site):
        text = page.read_text()
        urls = [m.group(3).strip() for m in ATTRIBUTE.finditer(text)] + ROW_LINK.findall(text)
        urls += [m.group(2).strip() for m in CSS_URL.finditer(text)]
        for url in urls:
            if not url or REMOTE.match(url) or NOT_A_FILE.match(url):
                continue
            checked += 1
            path = urllib.parse.unquote(url.split("#")[0].split("?")[0])
            if not (page.parent / path).is_file():
                missing.append(f"{page.relative_to(site)}: {url}")
    for sheet in sorted(site.rglob("*.css")):  # the fonts Font Awesome's stylesheet loads
        for match in CSS_URL.finditer(sheet.read_text()):
            url = match.group(2).strip()
            if url and not NOT_A_FILE.match(url):
                checked += 1
                if not (sheet.parent / url.split("?")[0].split("#")[0]).is_file():
                    missing.append(f"{sheet.relative_to(site)}: {url}")
    assert missing == []
    assert checked > 50
    fonts = list((site / data_docs.SITE_VENDOR_DIR).rglob("*.woff2"))
    assert len(fonts) >= 3


def test_every_vendored_asset_is_used_by_the_pages(site: Path):
    index = (site / "index.html").read_text()
    for asset in data_docs.CDN_ASSETS.values():
        if asset.path.endswith("filter-control.css"):
            continue  # only the suite and validation pages use the unminified one
        assert f"static/vendor/{asset.vendored_path}" in index, asset


def _row_of(text: str, needle: str) -> str:
    at = text.index(needle)
    return text[text.rindex("<tr", 0, at) : text.index("</tr>", at)]


def test_the_failing_expectation_is_rendered_as_failed(site: Path):
    text = _validation_page(site, ["fct_queue_intervals"]).read_text()
    failing = _row_of(text, FAILING_DESCRIPTION)
    assert "fa-times text-danger" in failing and "fa-check-circle" not in failing
    passing = _row_of(text, "values must never be null")
    assert "fa-check-circle text-success" in passing
    assert "Unsuccessful Expectations" in text
    assert FAILING_DESCRIPTION not in _validation_page(site, ["marts", "dim_agents"]).read_text()


def test_an_unknown_cdn_link_fails_loudly_naming_the_url(site: Path, tmp_path: Path):
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    url = "https://cdn.example.org/npm/chart.js@4.4.0/dist/chart.umd.min.js"
    page = copy / "index.html"
    page.write_text(page.read_text().replace("</head>", f'<script src="{url}"></script></head>', 1))
    with pytest.raises(data_docs.UnvendoredAssetError, match=re.escape(url)):
        data_docs.localize_site(copy)
    with pytest.raises(data_docs.UnvendoredAssetError, match=re.escape(url)):
        data_docs.verify_offline(copy)


def test_a_remote_font_in_a_stylesheet_fails_loudly(site: Path, tmp_path: Path):
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    url = "https://fonts.example.org/s/inter/v1/inter.woff2"
    page = copy / "index.html"
    page.write_text(
        page.read_text().replace("</head>", f"<style>@font-face {{ src: url('{url}'); }}</style></head>", 1)
    )
    with pytest.raises(data_docs.UnvendoredAssetError, match=re.escape(url)):
        data_docs.localize_site(copy)


def test_every_cdn_link_in_the_gx_templates_is_vendored():
    """Guards a GX upgrade at test time, including templates this test's pages don't use."""
    import great_expectations

    templates = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
    unmapped = set()
    for template in templates.glob("*.j2"):
        text = template.read_text()
        for tag in re.finditer(r"<(script|link|img)\b[^>]*>", text, re.IGNORECASE):
            for match in ATTRIBUTE.finditer(tag.group(0)):
                url = match.group(3)
                if REMOTE.match(url) and url not in data_docs.CDN_ASSETS:
                    unmapped.add(f"{template.name}: {url}")
    assert unmapped == set()


def test_vendor_folder_matches_its_manifest():
    assert data_docs.check_vendor_dir() == []
    manifest = data_docs.load_manifest()
    vendored = {entry["vendored_path"] for package in manifest["packages"] for entry in package["files"]}
    assert {asset.vendored_path for asset in data_docs.CDN_ASSETS.values()} <= vendored
    for package in manifest["packages"]:
        assert package["integrity"].startswith("sha512-")
        built = ("dist/", "build/", "css/", "webfonts/")
        assert any(not entry["path"].startswith(built) for entry in package["files"]), (
            f"{package['package']} has no license file"
        )


def test_site_ships_the_vendored_licenses_and_not_gx_tutorial_images(site: Path):
    vendor = site / data_docs.SITE_VENDOR_DIR
    assert (vendor / "manifest.json").is_file()
    assert (vendor / "bootstrap@4.3.1" / "LICENSE").is_file()
    assert (site / "static" / "images" / "favicon.ico").is_file()
    assert not (site / "static" / "images" / "glossary_scroller.gif").exists()
    size = sum(path.stat().st_size for path in site.rglob("*") if path.is_file())
    assert size < 5_000_000


@pytest.mark.parametrize("run_id", ["", "a/b", "a\\b", ".."])
def test_run_id_must_name_a_folder(results, tmp_path: Path, run_id: str):
    with pytest.raises(ValueError):
        data_docs.write_site(results[0], run_id, tmp_path / "site")


def test_rebuilding_into_the_same_folder_keeps_one_run(results, tmp_path: Path):
    validation_results, _ = results
    out = tmp_path / "site"
    data_docs.write_site(validation_results, "attempt", out)
    data_docs.write_site(validation_results, "attempt-2", out)
    runs = {page.relative_to(out).parts[-3] for page in (out / "validations").rglob("*.html")}
    assert runs == {"attempt-2"}
    data_docs.verify_offline(out)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _rendered_dom(page: Path, profile: Path) -> str:
    """The DOM after scripts ran, with every host unresolvable (offline)."""
    completed = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            f"--user-data-dir={profile}",
            "--no-sandbox",
            "--disable-gpu",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=127.0.0.1:9",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="headless chromium is not installed")
def test_pages_render_offline_in_headless_chromium(site: Path, tmp_path: Path):
    # bootstrap-table (with jQuery and Bootstrap) builds the index table only if the vendored scripts load.
    index = _rendered_dom(site / "index.html", tmp_path)
    assert "fixed-table-container" in index
    assert "Showing 1 to 2 of 2 rows" in index
    # vega-embed draws the KL divergence charts only if vega, vega-lite and vega-embed load.
    agents = _rendered_dom(_validation_page(site, ["marts", "dim_agents"]), tmp_path)
    assert agents.count('class="marks"') >= 2
