"""`make docs` and the descriptions: dbt docs generate works offline, on a fresh CALLOPS_HOME too, every
published table and column is documented, and the KPI definitions (doc blocks) reach the published file."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import duckdb
import pytest

from callops import dbt, publish, settings, warehouse
from tests.conftest import REPO

pytestmark = pytest.mark.dbt


def test_docs_generate_offline_and_every_mart_column_is_described(home, tmp_path):
    warehouse.connect().close()  # raw tables exist: the marts build with zero rows
    built = dbt.build()
    assert built.success, built.failures
    docs, with_catalog = dbt.docs(tmp_path / "docs")
    assert docs.success, docs.error
    assert with_catalog  # a built warehouse, free: column types and row counts are in
    target = tmp_path / "docs"
    assert (target / "index.html").exists() and (target / "static_index.html").exists()
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    assert "model.callops.rpt_daily_kpis" in catalog["nodes"]
    models = {node["name"]: node for node in manifest["nodes"].values() if node["resource_type"] == "model"}
    published = {name for name, node in models.items() if node["schema"] == "marts"}
    assert {"rpt_daily_kpis", "fct_contact_value_daily"} <= published
    undocumented = []
    for node_id, entry in catalog["nodes"].items():
        node = manifest["nodes"][node_id]
        if node["resource_type"] != "model":
            continue
        if not node["description"].strip():
            undocumented.append(node["name"])
        described = {name.lower() for name, column in node["columns"].items() if column["description"].strip()}
        undocumented += [f"{node['name']}.{name}" for name in entry["columns"] if name.lower() not in described]
    assert undocumented == []

    # The descriptions, the KPI doc blocks among them, are the published file's table and column comments.
    publish.publish("docs-run")
    con = duckdb.connect(str(settings.published_db_path()), read_only=True)
    try:
        comments = {
            (table, column): comment
            for table, column, comment in con.execute(
                "select table_name, column_name, comment from duckdb_columns() where schema_name = 'marts'"
            ).fetchall()
        }
        table_comments = dict(
            con.execute("select table_name, comment from duckdb_tables() where schema_name = 'marts'").fetchall()
        )
    finally:
        con.close()
    folded = " ".join
    for name in published:
        assert table_comments[name] == folded(models[name]["description"].split()), name
        for column, entry in models[name]["columns"].items():
            assert comments[(name, column)] == folded(entry["description"].split()), (name, column)
    answer_rate = kpi_doc_block("kpi_answer_rate")
    assert comments[("rpt_daily_kpis", "answer_rate")] == answer_rate
    assert comments[("fct_queue_intervals", "answer_rate")].startswith(answer_rate)
    assert "exclude_short_abandons (the default) A_t / (O - Ab_s)" in comments[("rpt_daily_kpis", "service_level_rate")]


def kpi_doc_block(name: str) -> str:
    """A doc block's text as written in dbt_project/models/_kpis__docs.md, whitespace folded."""
    source = (REPO / "dbt_project/models/_kpis__docs.md").read_text()
    block = re.search(r"\{% docs " + name + r" %\}(.*?)\{% enddocs %\}", source, re.S)
    assert block, name
    return " ".join(block.group(1).split())


def test_make_docs_renders_on_a_fresh_home_without_creating_the_warehouse(home):
    """The command of `make docs` (the Makefile's recipe, run as make runs it) on a CALLOPS_HOME nothing
    has run in: the site, the project's overview page, no catalog, and no build warehouse created."""
    recipe = re.search(r"^docs:.*\n\t(.+)$", (REPO / "Makefile").read_text(), re.M)
    assert recipe, "the Makefile has a docs target"
    command = [sys.executable if word == "$(BIN)/python" else word for word in shlex.split(recipe.group(1))]
    assert command[:4] == [sys.executable, "-m", "callops.dbt", "docs"], command
    ran = subprocess.run(command, cwd=REPO, env=dict(os.environ), capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    out = settings.dbt_work_dir() / "docs"
    assert f"dbt docs: {out / 'static_index.html'}" in ran.stdout
    assert "without column types and row counts" in ran.stdout
    assert (out / "index.html").exists() and (out / "static_index.html").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    overview = manifest["docs"]["doc.callops.__overview__"]["block_contents"]
    assert "callops is an open-source contact-center operations warehouse" in overview
    assert "callops is an open-source contact-center" in (out / "static_index.html").read_text()
    assert json.loads((out / "catalog.json").read_text())["nodes"] == {}
    assert not settings.build_db_path().exists()
    assert not list(out.glob("scratch.duckdb*"))
