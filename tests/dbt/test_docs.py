"""`dbt docs generate` works offline, and every published table and column is documented."""

from __future__ import annotations

import json

import pytest

from callops import dbt, settings, warehouse

pytestmark = pytest.mark.dbt


def test_docs_generate_offline_and_every_mart_column_is_described(home):
    warehouse.connect().close()  # raw tables exist: the marts build with zero rows
    built = dbt.build()
    assert built.success, built.failures
    docs = dbt.invoke("docs", "generate")
    assert docs.success, docs.error
    target = settings.dbt_work_dir() / "target"
    assert (target / "index.html").exists()
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
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
