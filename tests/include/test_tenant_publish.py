"""Each tenant its own published file: only its rows, its run log, its last good figures when held back."""

from __future__ import annotations

import grp
import os
import stat

import duckdb
import pytest

from callops import publish, settings, warehouse

TENANTS = ("shanghai_bank", "stockholm_telco")


def candidate(values: dict[str, int]) -> None:
    """Build-warehouse marts with one row per tenant (and a staging table that is never published)."""
    rows = " union all ".join(
        f"select '{tenant}' as tenant_id, {value} as offered_count" for tenant, value in values.items()
    )
    con = warehouse.connect()
    con.execute("create schema if not exists marts")
    con.execute(f"create or replace table marts.rpt_daily_kpis as {rows}")
    con.execute(
        f"create or replace table marts.fct_queue_intervals as select tenant_id, 'q1' as queue_id from ({rows})"
    )
    con.execute("comment on table marts.rpt_daily_kpis is 'One row per tenant per local date.'")
    con.close()


def delivered(run_id: str, tenant: str, name: str, action: str = "loaded") -> None:
    started(run_id, "failed")
    con = warehouse.connect()
    con.execute(
        "insert into ops.run_files (run_id, file_id, feed, tenant_id, delivery_date, file_name, action, rows_loaded, "
        "rows_rejected, rows_superseded, rows_skipped, message) values (?, ?, 'telephony', ?, '2026-03-01', ?, ?, "
        "10, 0, 0, 0, ?)",
        [run_id, f"{tenant}-{name}", tenant, name, action, f"landing/telephony/{tenant}/2026-03-01/{name}: {action}"],
    )
    con.execute(
        "insert into ops.check_results values (?, 'rpt_daily_kpis', 'expect_column_values_to_be_between', "
        "'answer_rate', 'blocking', false, 1, [? || ' 2026-03-01'], 'answer_rate is a 0-1 rate', now(), ?, "
        "'great_expectations')",
        [run_id, tenant, tenant],
    )
    con.close()


def started(run_id: str, status: str = "running") -> None:
    con = warehouse.connect()
    con.execute("insert or ignore into ops.runs values (?, '2026-03-01', '2026-03-01', now(), null, ?, null)",
                [run_id, status])
    con.close()


def pending(tenant: str) -> None:
    """A change of the tenant the gate has not passed (a blocking check held it back)."""
    con = warehouse.connect()
    con.execute(
        "insert into ops.changed_partitions values ('r-held', 'f', ?, '2026-03-02', '2026-03-02', now(), null)",
        [tenant],
    )
    con.close()


def read(path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def mentions(path, text: str) -> list[str]:
    """Every place of a published file that holds ``text``: a value of any column of any table, a comment."""
    found = []
    with duckdb.connect(str(path), read_only=True) as con:
        for table, column in con.execute(
            "select table_name, column_name from duckdb_columns() where database_name = current_database()"
        ).fetchall():
            hits = con.execute(
                f'select count(*) from marts."{table}" where cast("{column}" as varchar) ilike ?', [f"%{text}%"]
            ).fetchone()[0]
            if hits:
                found.append(f"{table}.{column}")
        comments = con.execute(
            "select string_agg(coalesce(comment, ''), ' ') from (select comment from duckdb_tables() "
            "union all select comment from duckdb_columns())"
        ).fetchone()[0] or ""
        if text.lower() in comments.lower():
            found.append("a comment")
        found += [f"table {name}" for (name,) in con.execute("select table_name from duckdb_tables()").fetchall()
                  if text in name]
    return found


def test_each_tenant_gets_a_file_of_its_own_rows_and_run_log_only(home):
    delivered("r-1", "shanghai_bank", "queue_log")
    delivered("r-1", "stockholm_telco", "secret_telco_export.csv", action="held")
    delivered("r-2", "stockholm_telco", "later.csv")
    candidate({"shanghai_bank": 1, "stockholm_telco": 2})
    started("r-3")
    done = publish.publish("r-3")

    center = settings.published_db_path()
    assert read(center, "select tenant_id, offered_count from marts.rpt_daily_kpis order by 1") == [
        ("shanghai_bank", 1), ("stockholm_telco", 2)
    ]
    assert sorted(done["tenants"]) == list(TENANTS)
    for tenant, other in (TENANTS, TENANTS[::-1]):
        path = publish.tenant_path(tenant)
        assert done["tenants"][tenant]["path"] == str(path)
        # the same tables as the center file, the marts' comments included
        assert read(path, "select table_name from duckdb_tables() order by 1") == read(
            center, "select table_name from duckdb_tables() order by 1"
        )
        assert read(path, "select comment from duckdb_tables() where table_name = 'rpt_daily_kpis'") == [
            ("One row per tenant per local date.",)
        ]
        assert {row[0] for row in read(path, "select tenant_id from marts.rpt_daily_kpis")} == {tenant}
        assert mentions(path, other) == []
    # a run row per run that touched the tenant, counted over its own deliveries and checks
    assert read(publish.tenant_path("shanghai_bank"), "select run_id, delivery_count, held_count, check_count "
                "from marts.runs order by 1") == [("r-1", 1, 0, 1), ("r-3", 0, 0, 0)]
    assert read(publish.tenant_path("stockholm_telco"), "select run_id, delivery_count, held_count, check_count "
                "from marts.runs order by 1") == [("r-1", 1, 1, 1), ("r-2", 1, 0, 1), ("r-3", 0, 0, 0)]
    assert mentions(publish.tenant_path("shanghai_bank"), "secret_telco_export") == []
    # the center keeps every run, every tenant
    assert read(center, "select run_id, delivery_count, held_count from marts.runs order by 1") == [
        ("r-1", 2, 1), ("r-2", 1, 0), ("r-3", 0, 0)
    ]
    assert read(center, "select tenant_id, publish_action from marts.run_tenants where run_id = 'r-3' order by 1") == [
        ("shanghai_bank", "published"), ("stockholm_telco", "published")
    ]


def test_a_held_back_tenant_keeps_its_last_good_figures_while_the_others_publish(home):
    candidate({"shanghai_bank": 1, "stockholm_telco": 1})
    publish.publish("r-1")
    candidate({"shanghai_bank": 2, "stockholm_telco": 999})
    pending("stockholm_telco")
    done = publish.publish("r-2")

    assert done["held_back"] == ["stockholm_telco"]
    center = settings.published_db_path()
    assert read(center, "select tenant_id, offered_count from marts.rpt_daily_kpis order by 1") == [
        ("shanghai_bank", 2), ("stockholm_telco", 1)
    ]
    assert read(center, "select count(*) from marts.fct_queue_intervals where tenant_id = 'stockholm_telco'") == [(1,)]
    assert read(publish.tenant_path("stockholm_telco"), "select offered_count from marts.rpt_daily_kpis") == [(1,)]
    assert read(publish.tenant_path("shanghai_bank"), "select offered_count from marts.rpt_daily_kpis") == [(2,)]
    assert read(publish.tenant_path("stockholm_telco"), "select run_id, publish_action from marts.run_tenants "
                "order by 1") == [("r-1", "published"), ("r-2", "held_back")]
    con = warehouse.connect()
    recorded = con.execute("select tenant_id, publish_action from ops.run_tenants where run_id = 'r-2' order by 1")
    assert recorded.fetchall() == [("shanghai_bank", "published"), ("stockholm_telco", "held_back")]
    con.close()


def test_a_tenant_held_back_at_its_first_publish_has_no_rows_yet(home):
    candidate({"shanghai_bank": 1, "stockholm_telco": 5})
    pending("stockholm_telco")
    publish.publish("r-1")
    assert read(settings.published_db_path(), "select tenant_id from marts.rpt_daily_kpis") == [("shanghai_bank",)]
    assert read(publish.tenant_path("stockholm_telco"), "select count(*) from marts.rpt_daily_kpis") == [(0,)]


def test_rollback_takes_every_file_back_together_and_one_tenant_alone(home, capsys):
    from callops import cli

    for n in (1, 2, 3):
        candidate({"shanghai_bank": n, "stockholm_telco": 10 * n})
        publish.publish(f"r-{n}")

    def figures():
        return (
            read(settings.published_db_path(), "select tenant_id, offered_count from marts.rpt_daily_kpis order by 1"),
            read(publish.tenant_path("shanghai_bank"), "select offered_count from marts.rpt_daily_kpis")[0][0],
            read(publish.tenant_path("stockholm_telco"), "select offered_count from marts.rpt_daily_kpis")[0][0],
        )

    assert cli.main(["rollback", "--tenant", "stockholm_telco"]) == 0
    assert "stockholm_telco" in capsys.readouterr().out
    assert figures() == ([("shanghai_bank", 3), ("stockholm_telco", 20)], 3, 20)
    assert cli.main(["rollback"]) == 0
    # the center one version back (r-2: shanghai 2, stockholm 20); each tenant file one back of its own
    assert figures() == ([("shanghai_bank", 2), ("stockholm_telco", 20)], 2, 10)
    assert cli.main(["rollback", "--tenant", "nobody"]) == 1
    assert "tenant nobody has no published file" in capsys.readouterr().out


def test_a_tenant_file_without_versions_is_made_again_from_the_center_it_rolls_back_to(home):
    candidate({"shanghai_bank": 1})
    publish.publish("r-1")
    candidate({"shanghai_bank": 2, "stockholm_telco": 7})  # a new tenant: no earlier version of its file
    publish.publish("r-2")
    publish.rollback()
    assert read(publish.tenant_path("stockholm_telco"), "select count(*) from marts.rpt_daily_kpis") == [(0,)]
    assert read(publish.tenant_path("shanghai_bank"), "select offered_count from marts.rpt_daily_kpis") == [(1,)]


def test_tenant_files_are_owner_only_unless_a_group_may_read_them(home, monkeypatch):
    candidate({"shanghai_bank": 1})
    publish.publish("r-1")
    folder, path = publish.tenants_dir(), publish.tenant_path("shanghai_bank")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.published_db_path().stat().st_mode) == 0o644

    own = grp.getgrgid(os.getgid()).gr_name
    monkeypatch.setenv(settings.PUBLISHED_GROUP_ENV, own)
    publish.publish("r-2")
    assert stat.S_IMODE((folder / "versions").stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_gid == os.getgid()

    monkeypatch.setenv(settings.PUBLISHED_GROUP_ENV, "no_such_group_callops")
    with pytest.raises(publish.PublishError, match="CALLOPS_PUBLISHED_GROUP=no_such_group_callops: no such group"):
        publish.publish("r-3")


def test_a_center_file_of_the_previous_release_gets_its_tenant_files_at_the_next_publish(home):
    """The previous release published the center file alone, its run log without tenants on checks."""
    center = settings.published_db_path()
    center.parent.mkdir(parents=True)
    with duckdb.connect(str(center)) as old:
        old.execute("create schema marts")
        old.execute("create table marts.rpt_daily_kpis as select * from (values ('shanghai_bank', 4), "
                    "('stockholm_telco', 6)) as t(tenant_id, offered_count)")
        old.execute("create table marts.runs as select 'r-old' as run_id")
    candidate({"shanghai_bank": 5, "stockholm_telco": 666})
    pending("stockholm_telco")
    publish.publish("r-new")
    assert read(center, "select tenant_id, offered_count from marts.rpt_daily_kpis order by 1") == [
        ("shanghai_bank", 5), ("stockholm_telco", 6)
    ]
    assert read(publish.tenant_path("stockholm_telco"), "select offered_count from marts.rpt_daily_kpis") == [(6,)]
    assert read(publish.tenant_path("stockholm_telco"), "select count(*) from marts.fct_queue_intervals") == [(0,)]


def test_a_rekey_forgets_the_tenants_versions_too(home):
    """Versions made with the old pseudonymisation key are removed, the tenants' as well as the center's,
    and the files served at the rekey never become versions (a rollback across a rekey is refused)."""
    for n in (1, 2):
        candidate({"shanghai_bank": n})
        publish.publish(f"r-{n}")
    assert publish.versions(publish.tenant_path("shanghai_bank"))
    publish.forget_versions()
    assert publish.versions() == [] and publish.versions(publish.tenant_path("shanghai_bank")) == []
    candidate({"shanghai_bank": 3})
    publish.publish("r-3")
    assert publish.versions(publish.tenant_path("shanghai_bank")) == []
    with pytest.raises(publish.PublishError, match="pseudonymisation key was rotated"):
        publish.rollback()


def test_every_command_takes_others_off_the_tenants_files(home, monkeypatch):
    """An earlier umask, a hand copy or a group since unset: `private.harden` (every command) puts the
    tenants' files back to what CALLOPS_PUBLISHED_GROUP says, and leaves the center file for everyone."""
    from callops import private

    candidate({"shanghai_bank": 1})
    publish.publish("r-1")
    path = publish.tenant_path("shanghai_bank")
    path.chmod(0o644)
    publish.tenants_dir().chmod(0o755)
    private.harden()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(publish.tenants_dir().stat().st_mode) == 0o700
    assert stat.S_IMODE(settings.published_db_path().stat().st_mode) == 0o644
    monkeypatch.setenv(settings.PUBLISHED_GROUP_ENV, grp.getgrgid(os.getgid()).gr_name)
    private.harden()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def benchmark(tenants: int, divisor: int = 10) -> None:
    """A build's rpt_tenant_benchmark of ``tenants`` tenants for one day and KPI, its center figures over all."""
    con = warehouse.connect()
    con.execute("create schema if not exists marts")
    con.execute(
        f"""create or replace table marts.rpt_tenant_benchmark as
        with v as (select 'tenant_' || n as tenant_id, n / {divisor} as kpi_value
                   from range(1, {tenants} + 1) as r(n))
        select 'day' as period_grain, date '2026-03-02' as period_start, tenant_id, 'answer_rate' as kpi_name,
            kpi_value, cast(rank() over (order by kpi_value desc) as bigint) as tenant_rank,
            cast(count(*) over () as bigint) as tenants_ranked, cast(count(*) over () as bigint) as tenants_with_value,
            count(*) over () >= 5 as is_center_shareable,
            quantile_cont(kpi_value, 0.25) over () as center_p25, median(kpi_value) over () as center_median,
            quantile_cont(kpi_value, 0.75) over () as center_p75, max(kpi_value) over () as center_best
        from v"""
    )
    con.close()


def test_a_tenant_sees_center_figures_only_over_enough_tenants_and_never_the_best(home):
    candidate({"tenant_1": 1, "tenant_2": 2})
    benchmark(2)
    started("r-1")
    publish.publish("r-1")
    center = settings.published_db_path()
    assert read(center, "select tenant_id, tenant_rank, round(center_median, 6), center_best "
                "from marts.rpt_tenant_benchmark order by 1") == [
        ("tenant_1", 2, 0.15, 0.2), ("tenant_2", 1, 0.15, 0.2)
    ]
    # two tenants: the median, the best figure and the rank would each give the other tenant's figure away
    assert read(publish.tenant_path("tenant_1"), "select * exclude (period_grain, period_start) "
                "from marts.rpt_tenant_benchmark") == [
        ("tenant_1", "answer_rate", 0.1, None, None, None, False, None, None, None, None)
    ]
    assert mentions(publish.tenant_path("tenant_1"), "0.2") == []

    candidate({f"tenant_{n}": n for n in range(1, 6)})
    benchmark(5)
    started("r-2")
    publish.publish("r-2")
    # five: the quartiles and the tenant's own rank are shared, the best figure still is not
    assert read(publish.tenant_path("tenant_3"), "select tenant_rank, tenants_ranked, tenants_with_value, "
                "center_p25, center_median, center_p75, center_best from marts.rpt_tenant_benchmark") == [
        (3, 5, 5, pytest.approx(0.2), pytest.approx(0.3), pytest.approx(0.4), None)
    ]

    # a tenant's rollback splices its rows of the same publish's center version back, center figures whole
    benchmark(5, divisor=100)
    started("r-3")
    publish.publish("r-3")
    publish.rollback(tenant="tenant_3")
    assert read(center, "select tenant_id, kpi_value, center_best from marts.rpt_tenant_benchmark "
                "where tenant_id in ('tenant_3', 'tenant_4') order by 1") == [
        ("tenant_3", 0.3, 0.5), ("tenant_4", 0.04, 0.05)
    ]


def test_while_a_tenant_is_held_back_the_benchmark_stays_as_last_published_for_every_tenant(home):
    """Its center figures and ranks are over every tenant's values: a held tenant's unchecked figure would
    move the others' ranks and quartiles while its own row stays old."""
    candidate({"tenant_1": 1, "tenant_2": 2})
    benchmark(2)
    started("r-1")
    publish.publish("r-1")
    ranked = "select tenant_id, kpi_value, tenant_rank, center_best from marts.rpt_tenant_benchmark order by 1"
    before = read(settings.published_db_path(), ranked)

    candidate({"tenant_1": 3, "tenant_2": 4})
    benchmark(2, divisor=1)  # tenant_2's new value, unchecked, would make it the best and tenant_1 second
    pending("tenant_2")
    started("r-2")
    publish.publish("r-2")
    assert read(settings.published_db_path(), "select tenant_id, offered_count from marts.rpt_daily_kpis "
                "order by 1") == [("tenant_1", 3), ("tenant_2", 2)]
    assert read(settings.published_db_path(), ranked) == before

    con = warehouse.connect()
    con.execute("update ops.changed_partitions set validated_run_id = 'r-3'")
    con.close()
    started("r-3")
    publish.publish("r-3")
    assert read(settings.published_db_path(), ranked) == [("tenant_1", 1.0, 2, 2.0), ("tenant_2", 2.0, 1, 2.0)]
