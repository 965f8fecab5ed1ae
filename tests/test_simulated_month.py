"""A month of the simulator's output for three tenants loads cleanly, and loading it again changes nothing.

Through the real loaders (every feed, three telephony formats), dbt and the
publish step; the published file holds no clear personal data, and the oldest
DuckDB it serves reads all of it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from callops import dbt, pipeline, publish, settings, wallboard, warehouse
from callops.config import load_config
from callops.load import registry
from callops.simulate.model import Surge
from callops.simulate.run import simulate
from tests import oldest_reader
from tests import wallboard_pages as pages
from tests.include.test_tenant_publish import mentions

pytestmark = pytest.mark.dbt

START = dt.date(2026, 3, 2)
DAYS = 30
# the general queue's arrivals x 10 for an hour of the last day: a service-alert episode to publish and read
SURGE = Surge("general", 10 * 60, 60, 10.0)
END = START + dt.timedelta(days=DAYS)  # one more delivery day: calls still going at midnight


def _snapshot(con) -> dict[str, object]:
    tables = [*registry.raw_tables(), "raw.rejects"]
    counts = {table: con.execute(f"select count(*) from {table}").fetchone()[0] for table in tables}
    cursor = con.execute("select * from marts.rpt_daily_kpis order by tenant_id, kpi_date")
    names = [d[0] for d in cursor.description]
    # floats rounded: DuckDB's parallel sums may differ in the last bits between two builds
    counts["marts"] = [
        {name: round(value, 9) if isinstance(value, float) else value for name, value in zip(names, row)}
        for row in cursor.fetchall()
    ]
    return counts


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("month")
    config = root / "callops.yml"
    config.write_text(
        "tenants:\n"
        "  - {id: bank, name: Bank, timezone: Asia/Shanghai, service_level_seconds: 10}\n"
        "  - {id: telco, name: Telco, timezone: Europe/Stockholm}\n"
        "  - {id: utility, name: Utility, timezone: America/New_York, short_abandon_seconds: 10}\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLOPS_HOME", str(root / "data"))
        patch.setenv("CALLOPS_CONFIG", str(config))
        written = simulate(
            load_config().tenants, tenants=3, days=DAYS, start=START, calls_per_day=120, seed=5,
            landing=settings.landing_dir(), workers=2, progress=None, surge=SURGE,
        )  # fmt: skip
        first = pipeline.load_deliveries("first", START, END)
        assert dbt.build().success
        with warehouse.connection() as con:
            before = _snapshot(con)
            formats = dict(con.execute("select tenant_id, list(distinct file_format order by file_format) "
                                       "from raw.manifest where feed = 'telephony' group by 1").fetchall())
            phones = [row[0] for row in con.execute(
                "select distinct caller_number from raw.telephony_contacts where caller_number is not null limit 50"
            ).fetchall()]  # fmt: skip
        second = pipeline.load_deliveries("second", START, END)
        assert dbt.run_models().success
        with warehouse.connection() as con:
            after = _snapshot(con)
            actions = con.execute(
                "select action, count(*) from ops.run_files where run_id = 'second' group by 1"
            ).fetchall()
        with warehouse.connection() as con:  # as the gate does when nothing blocks (a pending change is held back)
            con.execute("update ops.changed_partitions set validated_run_id = 'month' where validated_run_id is null")
        publish.publish("month")
        yield {
            "written": written, "first": first, "second": second, "before": before, "after": after,
            "actions": actions, "formats": formats, "phones": phones,
        }  # fmt: skip


def test_every_file_of_every_feed_loads_without_rejects(month):
    first = month["first"]
    assert first["failed"] == [] and first["rows_rejected"] == 0
    assert first["files"] > 3 * DAYS * 4  # telephony, hr, qa and marketing every day
    assert month["formats"] == {
        "bank": ["asterisk_queue_log"],
        "telco": ["amazon_connect_ctr", "callops_agent_state_csv"],
        "utility": ["callops_agent_state_csv", "callops_contact_csv"],
    }
    before = month["before"]
    for table in ("raw.queue_log_events", "raw.telephony_contacts", "raw.agent_state_events", "raw.qa_evaluations",
                  "raw.csat_surveys", "raw.hr_roster", "raw.hr_shifts", "raw.marketing_offers"):
        assert before[table] > 0, table
    kpi_days = {(row["tenant_id"], row["kpi_date"]) for row in before["marts"]}
    assert len(kpi_days) >= 3 * DAYS


def test_loading_the_month_again_changes_nothing(month):
    assert month["second"]["rows_loaded"] == 0 and month["second"]["failed"] == []
    assert month["actions"] == [("unchanged", month["first"]["files"])]
    assert month["after"] == month["before"]


def test_the_published_file_holds_no_clear_caller_number(month):
    assert month["phones"], "the simulated calls carry caller numbers"
    data = settings.published_db_path().read_bytes() if settings.published_db_path().exists() else b""
    assert data, "published"
    for phone in month["phones"]:
        assert phone.encode() not in data


def test_the_oldest_duckdb_reader_reads_every_published_table_and_its_types_and_descriptions(month):
    """A BI tool embedding DuckDB publish.OLDEST_DUCKDB_READER reads every row of every table; every
    column has a type any BI driver reads and, like every table, a description."""
    seen = oldest_reader.read_everything(settings.published_db_path())
    assert seen["version"] == publish.OLDEST_DUCKDB_READER
    assert seen["errors"] == {}
    con = duckdb.connect(str(settings.published_db_path()), read_only=True)
    try:
        counts = {
            f"{schema}.{table}": con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            for schema, table in con.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
            ).fetchall()
        }
    finally:
        con.close()
    assert {table: read["rows"] for table, read in seen["tables"].items()} == counts
    assert {"marts.rpt_daily_kpis", "marts.runs", "marts.run_deliveries", "marts.run_checks"} <= counts.keys()
    # every mart has rows to read (the month runs no gate: run_checks is empty; tests/include/test_publish.py)
    assert [table for table, rows in counts.items() if not rows] == ["marts.run_checks"]
    assert oldest_reader.unusual_columns(seen) == []
    assert oldest_reader.uncommented(seen) == []
    # a tenant's own file: the same tables, read by the same oldest DuckDB, every column described
    mine = oldest_reader.read_everything(publish.tenant_path("telco"))
    assert mine["errors"] == {} and mine["tables"].keys() == seen["tables"].keys()
    assert oldest_reader.unusual_columns(mine) == [] and oldest_reader.uncommented(mine) == []


def test_each_tenants_file_holds_its_own_rows_of_every_table_and_nothing_of_another_tenant(month):
    center = settings.published_db_path()
    tables = [f"marts.{name}" for (name,) in _read(center, "select table_name from duckdb_tables() order by 1")]
    for tenant in ("bank", "telco", "utility"):
        path = publish.tenant_path(tenant)
        names = _read(path, "select table_name from duckdb_tables() order by 1")
        assert [f"marts.{name}" for (name,) in names] == tables
        for table in tables:
            if table.removeprefix("marts.") in publish.RUN_LOG_SQL and table != "marts.run_deliveries":
                continue
            mine = f"select * from {table} where tenant_id = '{tenant}'"
            assert _read(path, f"select count(*) from ({mine})") == _read(center, f"select count(*) from ({mine})")
            assert _read(path, f"select count(*) from {table} where tenant_id is distinct from '{tenant}'") == [(0,)]
        for other in {"bank", "telco", "utility"} - {tenant}:
            assert mentions(path, f"{other}") == [], (tenant, other)
            assert mentions(path, other.capitalize()) == [], (tenant, other)  # the tenant's name


@pytest.fixture(scope="module")
def browser():
    with pages.launched_chromium() as launched:
        yield launched


ASSETS = Path(wallboard.__file__).parent / "wallboard_assets" / "static"
CENTER_TILES = {"offered_count", "answer_rate", "service_level_rate", "abandon_rate", "asa_seconds"}


@pytest.mark.browser
def test_the_wallboard_shows_the_months_marts_in_chromium_and_a_tenants_page_nothing_of_another(
    month, browser, tmp_path
):
    wallboard.regenerate()  # `callops wallboard`: from the files the month published
    root = wallboard.served_dir()
    center = settings.published_db_path()
    tenants = ("bank", "telco", "utility")
    latest = pages.latest_complete_days(center)
    assert set(latest) == set(tenants)
    artefacts = pages.artefacts_dir(tmp_path)
    for name, page, source in [("center", root / "index.html", center),
                               *((tenant, root / tenant / "index.html", publish.tenant_path(tenant))
                                 for tenant in tenants)]:
        for width, height in ((1920, 1080), (390, 844)):
            loaded = pages.open_page(browser, page, width, height,
                                     screenshot=artefacts / f"month-{name}-{width}x{height}.png")
            assert loaded["console_errors"] == [], (name, loaded["console_errors"])
            assert all(url.startswith("file://") for url in loaded["requests"]), loaded["requests"]
            assert loaded["charts"] and all(chart["drawn"] for chart in loaded["charts"]), (name, loaded["charts"])
            assert loaded["scrollWidth"] <= loaded["innerWidth"], (name, width)
            for kpi in loaded["kpis"]:
                # the tile is its mart's value, in the file the page was made from and in the center's
                assert kpi["value"] == pages.mart_value(source, kpi) == pages.mart_value(center, kpi), (name, kpi)
            shown = {(kpi["tenant"], kpi["kpi"], kpi["date"]) for kpi in loaded["kpis"] if kpi["grain"] == "day"}
            if name == "center":
                assert {(tenant, kpi, latest[tenant]) for tenant in tenants for kpi in CENTER_TILES} <= shown
            else:
                assert {tenant for tenant, _, _ in shown} == {name}
                assert (name, "service_level_rate", latest[name]) in shown
    # a tenant's folder holds nothing of another tenant: its files but the vendored libraries (the package's
    # own, byte for byte) searched for the others' ids and names
    for tenant in tenants:
        for path in (root / tenant).rglob("*"):
            if path.is_dir() or (path.parent.name == "_assets" and (ASSETS / path.name).is_file()
                                 and path.read_bytes() == (ASSETS / path.name).read_bytes()):
                continue
            text = path.read_text(encoding="utf-8")
            for other in set(tenants) - {tenant}:
                assert other not in text and other.capitalize() not in text, (tenant, path, other)


def _read(path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()
