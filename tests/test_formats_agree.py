"""The same simulated calls written in each telephony format give the same daily KPIs.

Four tenants with identical settings each receive the same two simulated days,
one tenant per format, through the real loaders, dbt and marts. Every figure a
format can express must be identical; what it cannot express must be null
(docs/domain.md): the queue_log has no hold or after-call work (AHT is talk time)
and sees no IVR-contained calls, the CDR has no queue wait (no SL, ASA, short
abandons or abandon rate).
"""

from __future__ import annotations

import datetime as dt

import pytest

from callops import dbt, pipeline, warehouse
from callops.config import Tenant
from callops.simulate.model import plan_tenant, simulate_day
from callops.simulate.writers import write_telephony

pytestmark = pytest.mark.dbt

DAYS = (dt.date(2026, 3, 3), dt.date(2026, 3, 4))
FORMATS = {
    "fmt_queue_log": "asterisk_queue_log",
    "fmt_connect": "amazon_connect_ctr",
    "fmt_csv": "callops_contact_csv",
    "fmt_cdr": "asterisk_cdr",
}
SETTINGS = "timezone: Europe/Stockholm\n    service_level_seconds: 20\n    short_abandon_seconds: 5"
WAIT_FIGURES = (
    "short_abandoned_count",
    "answered_within_sl_count",
    "abandoned_within_sl_count",
    "service_level_rate",
    "abandon_rate",
    "asa_seconds",
)
COUNT_FIGURES = ("offered_count", "answered_count", "abandoned_count", "answer_rate")


@pytest.fixture(scope="module")
def kpis(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[dt.date, dict]]:
    root = tmp_path_factory.mktemp("formats")
    config = root / "callops.yml"
    config.write_text(
        "tenants:\n" + "".join(f"  - id: {tenant}\n    name: {tenant}\n    {SETTINGS}\n" for tenant in FORMATS)
    )
    home = root / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLOPS_HOME", str(home))
        patch.setenv("CALLOPS_CONFIG", str(config))
        source = Tenant("source_center", "Source", "Europe/Stockholm")
        plan = plan_tenant(source, 0, 1, calls_per_day=400, seed=11, start=DAYS[0], end=DAYS[-1])
        for day in DAYS:
            calls = simulate_day(plan, day)
            for tenant, fmt in FORMATS.items():
                write_telephony(calls, fmt, home / "landing" / "telephony" / tenant / day.isoformat())
        summary = pipeline.load_deliveries("formats", DAYS[0], DAYS[-1])
        assert summary["failed"] == [] and summary["rows_rejected"] == 0, summary
        assert dbt.run_models().success
        with warehouse.connection() as con:
            cursor = con.execute("select * from marts.rpt_daily_kpis where kpi_date in (?, ?)", list(DAYS))
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    result: dict[str, dict[dt.date, dict]] = {tenant: {} for tenant in FORMATS}
    for row in rows:
        result[row["tenant_id"]][row["kpi_date"]] = row
    return result


def _figures(row: dict, names: tuple[str, ...]) -> dict:
    return {name: (round(row[name], 9) if isinstance(row[name], float) else row[name]) for name in names}


@pytest.mark.parametrize("day", DAYS)
def test_every_format_counts_the_same_contacts(kpis, day):
    reference = _figures(kpis["fmt_csv"][day], COUNT_FIGURES)
    assert reference["offered_count"] > 300 and reference["abandoned_count"] > 0
    for tenant in FORMATS:
        assert _figures(kpis[tenant][day], COUNT_FIGURES) == reference, tenant


@pytest.mark.parametrize("day", DAYS)
def test_ivr_containment_agrees_where_the_format_logs_the_ivr(kpis, day):
    contained = kpis["fmt_csv"][day]["ivr_contained_count"]
    assert contained > 0
    assert kpis["fmt_connect"][day]["ivr_contained_count"] == contained
    assert kpis["fmt_cdr"][day]["ivr_contained_count"] == contained
    # The queue_log sees only calls that reached a queue: unknown, not 0.
    assert kpis["fmt_queue_log"][day]["ivr_contained_count"] is None


@pytest.mark.parametrize("day", DAYS)
def test_formats_with_the_queue_wait_agree_on_every_wait_figure(kpis, day):
    reference = _figures(kpis["fmt_csv"][day], WAIT_FIGURES)
    assert all(value is not None for value in reference.values())
    assert _figures(kpis["fmt_queue_log"][day], WAIT_FIGURES) == reference
    assert _figures(kpis["fmt_connect"][day], WAIT_FIGURES) == reference


@pytest.mark.parametrize("day", DAYS)
def test_the_cdr_leaves_every_wait_figure_null(kpis, day):
    assert all(value is None for value in _figures(kpis["fmt_cdr"][day], WAIT_FIGURES).values())


@pytest.mark.parametrize("day", DAYS)
def test_handle_time_agrees_where_the_format_has_its_parts(kpis, day):
    full = kpis["fmt_csv"][day]["aht_seconds"]
    assert kpis["fmt_connect"][day]["aht_seconds"] == pytest.approx(full)
    # queue_log and CDR carry talk only: the same AHT as each other, less than talk + hold + wrap-up.
    talk_only = kpis["fmt_queue_log"][day]["aht_seconds"]
    assert kpis["fmt_cdr"][day]["aht_seconds"] == pytest.approx(talk_only)
    assert talk_only < full
