"""Great Expectations Data Docs for one pipeline run, viewable offline.

``write_site(results, run_id, out_dir)`` takes the ``ExpectationSuiteValidationResult``
objects a run produced (one per gated table) and writes a complete Data Docs site
into ``out_dir``: ``index.html``, one page per validation result, one page per suite
and the static assets.

GX renders its pages with stylesheets, scripts and fonts loaded from CDNs
(Bootstrap, jQuery, Popper, bootstrap-table, bootstrap-datepicker, Font Awesome,
bootstrap-dark, Vega). Offline those pages render unstyled and without their
tables' filters. So every such file is vendored from the npm registry into
``data_docs_vendor/`` (committed; ``python -m callops.quality.data_docs --vendor``
downloads the pinned versions again and checks the registry's sha512 integrity),
copied into ``<site>/static/vendor/`` and every CDN link of every page is rewritten
to a relative path. Any remote script, stylesheet, font or image still referenced
after that raises ``UnvendoredAssetError`` naming the URL, so a GX upgrade that
adds or moves a CDN link fails loudly instead of silently going online again.

The site is built with GX's own ``SiteBuilder`` (``context.build_data_docs()``)
from an ephemeral context whose only Data Docs site is a filesystem store at
``out_dir``: the results go into its in-memory validation results store, and
each suite is rebuilt from its result's expectation configurations so the
suite pages (linked from the index) exist too. Nothing is written outside
``out_dir``. GX's tutorial images and unused fonts (~4 MB) are left out of the
site; what the pages load is checked to exist.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import hashlib
import io
import json
import logging
import os
import posixpath
import re
import shutil
import sys
import tarfile
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

VENDOR_DIR = Path(__file__).with_name("data_docs_vendor")
MANIFEST_NAME = "manifest.json"
SITE_VENDOR_DIR = "static/vendor"
SITE_NAME = "callops_run"
NPM_REGISTRY = "https://registry.npmjs.org"
DOWNLOAD_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Asset:
    """One file of one exact npm package version."""

    package: str
    version: str
    path: str

    @property
    def vendored_path(self) -> str:
        """Path inside the vendor folder (and under ``static/vendor/`` of a site)."""
        return f"{self.package}@{self.version}/{self.path}"


# Every CDN URL found in GX 1.24.1's page templates (render/view/templates/page.j2,
# js_script_imports.j2), mapped to the same file in the npm package the CDN serves.
# The vega URLs name a major version only (the CDN resolves it at request time):
# they are pinned here to the newest release of that major when vendored.
CDN_ASSETS: dict[str, Asset] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": Asset(
        "bootstrap", "4.3.1", "dist/css/bootstrap.min.css"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": Asset(
        "bootstrap", "4.3.1", "dist/js/bootstrap.min.js"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": Asset("jquery", "3.7.1", "dist/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": Asset(
        "popper.js", "1.12.9", "dist/umd/popper.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": Asset(
        "bootstrap-datepicker", "1.9.0", "dist/css/bootstrap-datepicker.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": Asset(
        "bootstrap-datepicker", "1.9.0", "dist/js/bootstrap-datepicker.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": Asset(
        "@fortawesome/fontawesome-free", "6.6.0", "css/all.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": Asset(
        "bootstrap-table", "1.19.1", "dist/bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": Asset(
        "bootstrap-table", "1.19.1", "dist/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": Asset(  # noqa: E501 (a URL)
        "bootstrap-table", "1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": Asset(
        "bootstrap-table", "1.19.0", "dist/extensions/filter-control/bootstrap-table-filter-control.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": Asset(  # noqa: E501 (a URL)
        "bootstrap-table", "1.19.0", "dist/extensions/filter-control/bootstrap-table-filter-control.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": Asset(
        "@forevolve/bootstrap-dark", "1.1.0", "dist/css/bootstrap-prefers-dark.css"
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": Asset("vega", "5.33.1", "build/vega.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": Asset("vega-lite", "5.23.0", "build/vega-lite.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": Asset("vega-embed", "6.29.0", "build/vega-embed.min.js"),
}

# GX's navbar logo comes from its S3 bucket (an <img> and a dark-mode CSS background).
# GX ships the light logo in the site's own static/images/; there is no local dark one,
# so dark mode shows the light logo too.
REMOTE_IMAGES: dict[str, str] = {
    "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png": "static/images/logo-long.png",
    "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png": "static/images/logo-long.png",  # noqa: E501
}

LICENSE_FILE = re.compile(r"^(licen[cs]e|copying|notice)([.-].*)?$", re.IGNORECASE)

# Tags whose attribute makes the browser load something (href of <a> only navigates).
_RESOURCE_ATTRIBUTES = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "input": ("src",),
}
_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*?)?/?>")
_ATTRIBUTE = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_CSS_URL = re.compile(r"""url\(\s*(["']?)([^"')]*?)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(["'])([^"']+)\1""", re.IGNORECASE)
_REMOTE = re.compile(r"^(?:https?:)?//", re.IGNORECASE)
_NOT_A_FILE = re.compile(r"^(?:#|data:|mailto:|javascript:|about:)", re.IGNORECASE)
_ROW_LINK = re.compile(r"""['"]_table_row_link_path['"]\s*:\s*['"]([^'"]+)['"]""")
_STYLE_BLOCK = re.compile(r"(<style\b[^>]*>)(.*?)(</style\s*>)", re.IGNORECASE | re.DOTALL)
_SITE_STATIC = re.compile(r"^(?:\./|(?:\.\./)*)(static/.*)$")

logger = logging.getLogger(__name__)


class UnvendoredAssetError(RuntimeError):
    """A page or stylesheet of the site loads a file from the network."""

    def __init__(self, url: str, where: Path) -> None:
        super().__init__(
            f"{where} loads {url} from the network and it is not vendored: add it to "
            "CDN_ASSETS in callops/quality/data_docs.py and run "
            "`python -m callops.quality.data_docs --vendor`"
        )
        self.url = url
        self.where = where


class DataDocsBuildError(RuntimeError):
    """GX did not render every page of the site."""


# --------------------------------------------------------------------------- site


def write_site(results: Sequence, run_id: str, out_dir: Path) -> Path:
    """Write the Data Docs site of one run into ``out_dir`` and return its index.html.

    ``results`` are the ``ExpectationSuiteValidationResult`` objects of the run (what
    ``ValidationDefinition.run()`` returns), one per suite and table. ``run_id`` names
    the run in the site (the Airflow run id, for instance); it may not contain a path
    separator. ``out_dir`` should be a folder of its own per run: pages a previous
    build left in it for other runs are removed.
    """
    _check_run_id(run_id)
    if not results:
        raise ValueError("write_site needs at least one validation result")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    expected_pages = _build_gx_site(list(results), run_id, out_dir)
    missing = [page for page in expected_pages if not page.is_file()]
    if missing:
        raise DataDocsBuildError(f"GX did not write {', '.join(str(page) for page in missing)}")
    install_vendor_assets(out_dir)
    localize_site(out_dir)
    prune_unused_static(out_dir)
    verify_offline(out_dir)
    return out_dir / "index.html"


def _check_run_id(run_id: str) -> None:
    if not isinstance(run_id, str) or not run_id.strip() or run_id in {".", ".."}:
        raise ValueError(f"run_id must be a non-empty name, not {run_id!r}")
    if "/" in run_id or "\\" in run_id:
        raise ValueError(f"run_id {run_id!r} may not contain '/' or '\\' (it names a folder of the site)")


def _build_gx_site(results: list, run_id: str, out_dir: Path) -> list[Path]:
    """Render the run's results with GX's SiteBuilder; return the pages it must have written."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context import set_context
    from great_expectations.data_context.data_context.context_factory import project_manager
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.exceptions import DataContextRequiredError

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={
            SITE_NAME: {
                "class_name": "SiteBuilder",
                # No tutorial modal / calls to action: these are pipeline reports.
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "site_section_builders": {
                    # The default filter drops runs whose name contains "profiling".
                    "validations": {"run_name_filter": {"equals": run_id}},
                    "profiling": "False",
                },
            }
        },
    )
    # get_context() makes the new context GX's current project; put the caller's back after.
    try:
        previous = project_manager.get_current_project()
    except DataContextRequiredError:
        previous = None
    context = gx.get_context(mode="ephemeral", project_config=config)
    try:
        run_time = _run_time(results)
        gx_run_id = RunIdentifier(run_name=run_id, run_time=run_time)
        pages = []
        suites = {}
        batch_ids: set[tuple[str, str]] = set()
        for result in results:
            suite_name = result.suite_name
            batch_id = _unique(_batch_identifier(result), suite_name, batch_ids)
            result = copy.deepcopy(result)
            result.meta["run_id"] = gx_run_id
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
                run_id=gx_run_id,
                batch_identifier=batch_id,
            )
            context.validation_results_store.set(key, result)
            suites.setdefault(suite_name, [item.expectation_config for item in result.results])
            pages.append(
                out_dir.joinpath("validations", *suite_name.split("."), *gx_run_id.to_tuple(), f"{batch_id}.html")
            )
        for suite_name, configurations in suites.items():
            context.suites.add(gx.ExpectationSuite(name=suite_name, expectations=copy.deepcopy(configurations)))
            pages.append(out_dir.joinpath("expectations", *suite_name.split(".")).with_suffix(".html"))
        with _RaiseOnLoggedErrors("great_expectations.render.renderer.site_builder"):
            context.build_data_docs(site_names=[SITE_NAME])
    finally:
        set_context(previous)
    return [out_dir / "index.html", *pages]


def _run_time(results: list) -> dt.datetime:
    """The earliest validation time of the run's results (now if none recorded one)."""
    times = []
    for result in results:
        run = (result.meta or {}).get("run_id")
        run_time = getattr(run, "run_time", None)
        if run_time is None and isinstance(run, dict):
            run_time = run.get("run_time")
        if isinstance(run_time, str):
            run_time = dt.datetime.fromisoformat(run_time)
        if isinstance(run_time, dt.datetime):
            times.append(run_time if run_time.tzinfo else run_time.replace(tzinfo=dt.UTC))
    return min(times) if times else dt.datetime.now(dt.UTC)


def _batch_identifier(result) -> str:
    """``<datasource>-<asset>`` as GX names a whole-DataFrame batch."""
    batch = (result.meta or {}).get("active_batch_definition") or {}
    parts = [batch.get("datasource_name"), batch.get("data_asset_name")]
    name = "-".join(str(part) for part in parts if part) or getattr(result, "asset_name", None) or "batch"
    return re.sub(r"[/\\]", "_", name)


def _unique(batch_id: str, suite_name: str, seen: set[tuple[str, str]]) -> str:
    candidate, number = batch_id, 1
    while (suite_name, candidate) in seen:
        number += 1
        candidate = f"{batch_id}-{number}"
    seen.add((suite_name, candidate))
    return candidate


class _RaiseOnLoggedErrors(logging.Handler):
    """GX's SiteBuilder logs rendering exceptions and carries on: make them fatal."""

    def __init__(self, logger_name: str) -> None:
        super().__init__(level=logging.ERROR)
        self._logger = logging.getLogger(logger_name)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> _RaiseOnLoggedErrors:
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc_info) -> None:
        self._logger.removeHandler(self)
        if self.messages and exc_info[0] is None:
            raise DataDocsBuildError("GX failed to render Data Docs:\n" + "\n".join(self.messages))


# ------------------------------------------------------------ offline post-processing


def load_manifest(vendor_dir: Path = VENDOR_DIR) -> dict:
    path = vendor_dir / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run `python -m callops.quality.data_docs --vendor` to vendor the Data Docs assets"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def install_vendor_assets(site_dir: Path, vendor_dir: Path = VENDOR_DIR) -> None:
    """Copy the vendored files (per the manifest, with licenses) to ``<site>/static/vendor/``."""
    manifest = load_manifest(vendor_dir)
    target = Path(site_dir) / SITE_VENDOR_DIR
    vendored = {entry["vendored_path"] for package in manifest["packages"] for entry in package["files"]}
    missing = sorted(asset.vendored_path for asset in CDN_ASSETS.values() if asset.vendored_path not in vendored)
    if missing:
        raise FileNotFoundError(
            f"not in {vendor_dir / MANIFEST_NAME}: {', '.join(missing)}; "
            "run `python -m callops.quality.data_docs --vendor`"
        )
    for relative in sorted(vendored) + [MANIFEST_NAME]:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(vendor_dir / relative, destination)


def localize_site(site_dir: Path) -> None:
    """Point every CDN link of every page and stylesheet of the site at local files.

    Also repairs GX's own relative links to ``static/`` (GX 1.24 gives validation
    pages a favicon link one folder too short).
    """
    site_dir = Path(site_dir)
    vendor_root = site_dir / SITE_VENDOR_DIR
    for page in sorted(site_dir.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        new = _localize_html(text, page, site_dir)
        if new != text:
            page.write_text(new, encoding="utf-8")
    for sheet in sorted(site_dir.rglob("*.css")):
        if vendor_root in sheet.parents:
            continue  # checked when vendored, and by verify_offline
        text = sheet.read_text(encoding="utf-8")
        new = _localize_css(text, sheet, site_dir)
        if new != text:
            sheet.write_text(new, encoding="utf-8")


def prune_unused_static(site_dir: Path) -> None:
    """Delete GX's static files that no page names (tutorial GIFs, unused fonts: ~4 MB a run).

    The vendored files stay, licenses included.
    """
    site_dir = Path(site_dir)
    vendor_root = site_dir / SITE_VENDOR_DIR
    pages = "\n".join(page.read_text(encoding="utf-8") for page in site_dir.rglob("*.html"))
    static = site_dir / "static"
    for path in sorted(static.rglob("*"), reverse=True):
        if path == vendor_root or vendor_root in path.parents:
            continue
        if path.is_file() and path.name not in pages:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def _relative(site_dir: Path, page: Path, site_path: str) -> str:
    return posixpath.relpath(site_path, Path(os.path.relpath(page.parent, site_dir)).as_posix())


def _local_target(url: str, page: Path, site_dir: Path, *, remote_images: bool) -> tuple[str | None, bool]:
    """(replacement, is_vendored) for one referenced URL; (None, False) to keep it."""
    if _REMOTE.match(url):
        if url in CDN_ASSETS:
            return _relative(site_dir, page, f"{SITE_VENDOR_DIR}/{CDN_ASSETS[url].vendored_path}"), True
        bare = url.split("?", 1)[0].split("#", 1)[0]
        if remote_images and bare in REMOTE_IMAGES:
            return _relative(site_dir, page, REMOTE_IMAGES[bare]), False
        raise UnvendoredAssetError(url, page)
    match = _SITE_STATIC.match(url)
    if match:
        return _relative(site_dir, page, match.group(1)), False
    return None, False


def _localize_html(text: str, page: Path, site_dir: Path) -> str:
    def tag(match: re.Match) -> str:
        name, attributes = match.group(1).lower(), match.group(2) or ""
        resource_attributes = _RESOURCE_ATTRIBUTES.get(name, ())
        out, vendored = match.group(0), False
        for attribute in _ATTRIBUTE.finditer(attributes):
            key = attribute.group(1).lower()
            value = next((group for group in attribute.group(2, 3, 4) if group is not None), None)
            if value is None:
                continue
            if key == "srcset" and key in resource_attributes:
                for candidate in value.split(","):
                    if candidate.strip() and _REMOTE.match(candidate.split()[0]):
                        raise UnvendoredAssetError(candidate.split()[0], page)
                continue
            if key in resource_attributes:
                new, is_vendored = _local_target(value.strip(), page, site_dir, remote_images=True)
                vendored = vendored or is_vendored
            elif key == "href" and _SITE_STATIC.match(value):  # e.g. <a href> to a site file
                new, _ = _local_target(value.strip(), page, site_dir, remote_images=False)
            elif key == "style":
                new = _localize_css(value, page, site_dir)
            else:
                continue
            if new is not None and new != value:
                out = out.replace(attribute.group(0), attribute.group(0).replace(value, new), 1)
        if vendored:
            # A CDN's subresource-integrity hash of a file now served locally: check it,
            # then drop it with crossorigin (a file:// page cannot load a CORS script).
            _check_integrity(out, page)
            out = re.sub(r"""\s+(?:integrity|crossorigin)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?""", "", out)
        return out

    text = _TAG.sub(tag, text)
    return _STYLE_BLOCK.sub(
        lambda block: block.group(1) + _localize_css(block.group(2), page, site_dir) + block.group(3), text
    )


def _check_integrity(tag_text: str, page: Path) -> None:
    integrity = re.search(r"""integrity\s*=\s*["']([^"']+)["']""", tag_text)
    source = re.search(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", tag_text)
    if not integrity or not source:
        return
    local = (page.parent / urllib.parse.unquote(source.group(1))).resolve()
    data = local.read_bytes()
    for expected in integrity.group(1).split():
        algorithm, _, digest = expected.partition("-")
        if algorithm in {"sha256", "sha384", "sha512"}:
            actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
            if actual != digest:
                raise UnvendoredAssetError(
                    f"{source.group(1)} (vendored file does not match the page's integrity {expected})", page
                )


def _localize_css(text: str, where: Path, site_dir: Path) -> str:
    def url(match: re.Match) -> str:
        value = match.group(2).strip()
        if not value or _NOT_A_FILE.match(value):
            return match.group(0)
        new, _ = _local_target(value, where, site_dir, remote_images=True)
        if new is None:
            return match.group(0)
        quote = match.group(1)
        return f"url({quote}{new}{quote})"

    for imported in _CSS_IMPORT.finditer(text):
        if _REMOTE.match(imported.group(2)):
            raise UnvendoredAssetError(imported.group(2), where)
    return _CSS_URL.sub(url, text)


# ------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Reference:
    where: Path
    url: str
    kind: str  # "resource" (loaded by the browser) or "link" (navigated to)


def site_references(site_dir: Path) -> list[Reference]:
    """Every src/href of every page, and every url() of every page and stylesheet."""
    references = []
    for page in sorted(Path(site_dir).rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for match in _TAG.finditer(text):
            name = match.group(1).lower()
            for attribute in _ATTRIBUTE.finditer(match.group(2) or ""):
                key = attribute.group(1).lower()
                value = next((group for group in attribute.group(2, 3, 4) if group is not None), None)
                if value is None:
                    continue
                if key == "style":
                    references.extend(_css_references(value, page))
                elif key in _RESOURCE_ATTRIBUTES.get(name, ()):
                    if key == "srcset":
                        urls = [part.split()[0] for part in value.split(",") if part.strip()]
                    else:
                        urls = [value]
                    references.extend(Reference(page, item.strip(), "resource") for item in urls)
                elif key == "href":
                    references.append(Reference(page, value.strip(), "link"))
        # The index's table rows link to validation pages from bootstrap-table's data.
        references.extend(Reference(page, match.group(1), "link") for match in _ROW_LINK.finditer(text))
        for block in _STYLE_BLOCK.finditer(text):
            references.extend(_css_references(block.group(2), page))
    for sheet in sorted(Path(site_dir).rglob("*.css")):
        references.extend(_css_references(sheet.read_text(encoding="utf-8"), sheet))
    return references


def _css_references(text: str, where: Path) -> list[Reference]:
    found = [Reference(where, match.group(2).strip(), "resource") for match in _CSS_URL.finditer(text)]
    found += [Reference(where, match.group(2).strip(), "resource") for match in _CSS_IMPORT.finditer(text)]
    return [reference for reference in found if reference.url and not _NOT_A_FILE.match(reference.url)]


def verify_offline(site_dir: Path) -> None:
    """Raise unless nothing the site loads is remote and every local reference exists."""
    missing = []
    for reference in site_references(site_dir):
        if _REMOTE.match(reference.url):
            if reference.kind == "resource":
                raise UnvendoredAssetError(reference.url, reference.where)
            continue
        if _NOT_A_FILE.match(reference.url):
            continue
        path = urllib.parse.unquote(reference.url.split("#", 1)[0].split("?", 1)[0])
        if path and not (reference.where.parent / path).exists():
            missing.append(f"{reference.where}: {reference.url}")
    if missing:
        raise DataDocsBuildError("local references that do not resolve:\n" + "\n".join(missing))


# ---------------------------------------------------------------------- vendoring


def pinned_packages() -> dict[tuple[str, str], list[str]]:
    """(package, version) -> files the pages load, from CDN_ASSETS."""
    packages: dict[tuple[str, str], list[str]] = {}
    for asset in CDN_ASSETS.values():
        files = packages.setdefault((asset.package, asset.version), [])
        if asset.path not in files:
            files.append(asset.path)
    return packages


def _fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "callops-data-docs-vendor"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:  # noqa: S310 (https only)
        return response.read()


def _check_npm_integrity(data: bytes, integrity: str, what: str) -> None:
    algorithm, _, digest = integrity.partition("-")
    if algorithm != "sha512":
        raise ValueError(f"{what}: expected a sha512 integrity from the registry, got {integrity!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != digest:
        raise ValueError(f"{what}: tarball sha512 {actual} does not match the registry's {digest}")


def _css_dependencies(css_path: str, css_text: str, available: Iterable[str]) -> list[str]:
    """Package files a stylesheet loads with url() (fonts, images); remote ones are fatal."""
    available = set(available)
    needed = []
    for match in list(_CSS_URL.finditer(css_text)) + list(_CSS_IMPORT.finditer(css_text)):
        value = match.group(2).strip()
        if not value or _NOT_A_FILE.match(value):
            continue
        if _REMOTE.match(value):
            raise UnvendoredAssetError(value, Path(css_path))
        target = posixpath.normpath(posixpath.join(posixpath.dirname(css_path), value.split("?")[0].split("#")[0]))
        if target not in available:
            raise FileNotFoundError(f"{css_path} references {value}, which is not in the package")
        if target not in needed:
            needed.append(target)
    return needed


def vendor(vendor_dir: Path = VENDOR_DIR, registry: str = NPM_REGISTRY) -> dict:
    """Download the pinned npm packages, verify them, keep the files the pages need.

    Writes ``<vendor_dir>/<package>@<version>/<path>`` for every file of CDN_ASSETS,
    every file their stylesheets load (fonts) and the package's license files, plus
    ``manifest.json``. The folder is rebuilt from scratch.
    """
    staging = vendor_dir.with_name(vendor_dir.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    manifest = {
        "about": "Files GX Data Docs load from CDNs, vendored from the npm registry for offline Data Docs "
        "(python -m callops.quality.data_docs --vendor). vendored_path is relative to this folder "
        "and to static/vendor/ of a site.",
        "registry": registry,
        "packages": [],
    }
    for (package, version), wanted in pinned_packages().items():
        metadata = json.loads(_fetch(f"{registry}/{package}/{version}"))
        if metadata.get("version") != version:
            raise ValueError(f"registry answered {metadata.get('version')} for {package}@{version}")
        dist = metadata["dist"]
        tarball = _fetch(dist["tarball"])
        _check_npm_integrity(tarball, dist["integrity"], f"{package}@{version}")
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            contents = {}
            for member in archive.getmembers():
                if member.isfile():
                    # npm tarballs hold one top folder, usually "package/".
                    contents[member.name.split("/", 1)[1]] = archive.extractfile(member).read()
        files = list(wanted)
        for path in files:  # grows while stylesheets name more files
            if path not in contents:
                raise FileNotFoundError(f"{package}@{version} has no {path}")
            if path.endswith(".css"):
                files.extend(
                    dep
                    for dep in _css_dependencies(path, contents[path].decode("utf-8"), contents)
                    if dep not in files
                )
        licenses = sorted(path for path in contents if "/" not in path and LICENSE_FILE.match(path))
        if not licenses:
            # (popper.js 1.12.9) the notice is in the file headers; package.json names the license.
            if not metadata.get("license"):
                raise FileNotFoundError(f"{package}@{version} ships no license file and names no license")
            licenses = ["package.json"]
        entries = []
        for path in files + licenses:
            data = contents[path]
            vendored_path = f"{package}@{version}/{path}"
            destination = staging / vendored_path
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(data)
            entries.append(
                {
                    "path": path,
                    "vendored_path": vendored_path,
                    "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
        manifest["packages"].append(
            {
                "package": package,
                "version": version,
                "license": metadata.get("license"),
                "tarball": dist["tarball"],
                "integrity": dist["integrity"],
                "files": entries,
            }
        )
        logger.info("vendored %s@%s: %d files", package, version, len(entries))
    (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if vendor_dir.exists():
        shutil.rmtree(vendor_dir)
    staging.rename(vendor_dir)
    return manifest


def check_vendor_dir(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Problems with the committed vendor folder (files missing, changed or unlisted)."""
    manifest = load_manifest(vendor_dir)
    problems = []
    listed = {MANIFEST_NAME}
    for package in manifest["packages"]:
        for entry in package["files"]:
            listed.add(entry["vendored_path"])
            path = vendor_dir / entry["vendored_path"]
            if not path.is_file():
                problems.append(f"missing {entry['vendored_path']}")
            elif hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
                problems.append(f"changed {entry['vendored_path']}")
    for path in vendor_dir.rglob("*"):
        relative = path.relative_to(vendor_dir).as_posix()
        if path.is_file() and relative not in listed:
            problems.append(f"not in the manifest: {relative}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m callops.quality.data_docs", description=__doc__.split("\n")[0])
    parser.add_argument("--vendor", action="store_true", help="download the pinned npm packages into the vendor folder")
    parser.add_argument("--check", action="store_true", help="check the vendor folder against its manifest")
    parser.add_argument("--vendor-dir", type=Path, default=VENDOR_DIR)
    args = parser.parse_args(argv)
    if not (args.vendor or args.check):
        parser.error("nothing to do: give --vendor or --check")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.vendor:
        manifest = vendor(args.vendor_dir)
        for package in manifest["packages"]:
            size = sum(entry["bytes"] for entry in package["files"])
            print(f"{package['package']}@{package['version']}: {len(package['files'])} files, {size:,} bytes")
    problems = check_vendor_dir(args.vendor_dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
