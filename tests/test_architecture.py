"""The package's import graph (issue 17): no cycle, and each module imports only from the layers below
it, function-level imports included; the simulator writes files without importing the loader.

The layers and contracts are in pyproject.toml (``[tool.importlinter]``); ``lint-imports`` checks them
on the ``callops`` these tests import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import callops
from callops import warehouse
from callops.load import registry
from tests.conftest import REPO

LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")
PACKAGE = Path(callops.__file__).parent


def lint_imports(package_root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` with the repository's contracts, on the callops package found under ``package_root``."""
    env = dict(os.environ, PYTHONPATH=str(package_root), NO_COLOR="1", COLUMNS="200")
    return subprocess.run(
        [LINT_IMPORTS, "--config", str(REPO / "pyproject.toml"), "--no-cache", "--no-logo"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )


def test_every_module_imports_only_downward_and_the_simulator_not_the_loader():
    linted = lint_imports(PACKAGE.parent)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "2 kept, 0 broken" in linted.stdout


def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path):
    """The check can fail: a copy of the package with an import hidden in a function that goes up (the
    settings importing the CLI), and a simulator module that reads the loader, is refused, naming both."""
    copy = tmp_path / "callops"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "data_docs_vendor"))
    with (copy / "settings.py").open("a") as handle:
        handle.write("\n\ndef _upward():\n    from callops import cli\n\n    return cli\n")
    with (copy / "simulate" / "writers.py").open("a") as handle:
        handle.write("\nfrom callops.load import contacts_csv  # noqa: E402\n")
    linted = lint_imports(tmp_path)
    assert linted.returncode != 0
    assert "callops.settings -> callops.cli" in linted.stdout, linted.stdout
    assert "callops.simulate.writers -> callops.load.contacts_csv" in linted.stdout, linted.stdout
    assert "0 kept, 2 broken" in linted.stdout


def test_the_warehouse_creates_every_raw_table_the_adapters_write(home):
    """The raw tables' definitions moved below the loader (callops.contracts): each adapter's tables are
    still created by every writable connection."""
    with warehouse.connection() as con:
        created = {
            f"{schema}.{table}"
            for schema, table in con.execute(
                "select schema_name, table_name from duckdb_tables() where schema_name = 'raw'"
            ).fetchall()
        }
    assert set(registry.raw_tables()) <= created
