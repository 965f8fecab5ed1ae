"""Serving the marts from a real PostgreSQL 15: content, tenant isolation, comments, the swap under a
reader, a server that is down and the catch-up after (callops.serving)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pytest

from callops import publish, serving, settings, warehouse
from tests.postgres import Server, Unavailable

pytestmark = pytest.mark.postgres

TENANTS = ("shanghai_bank", "stockholm_telco")


@pytest.fixture(scope="module")
def postgres():
    try:
        server = Server()
    except Unavailable as why:
        pytest.skip(str(why))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def served(home, postgres, monkeypatch):
    """A fresh database for each test (the roles are the cluster's: each test's logins are its own)."""
    postgres.superuser_sql("drop database if exists callops with (force)", "create database callops owner callops")
    monkeypatch.setenv(settings.SERVING_URL_ENV, postgres.url)
    return postgres


def candidate(version: int = 1, extra_column: bool = False) -> None:
    """Build-warehouse marts for both tenants over three days, every served type, '' and null texts; a
    table without a day; comments. ``version`` shifts every figure."""
    con = warehouse.connect()
    con.execute("create schema if not exists marts")
    extra = ", 'new' as release_note" if extra_column else ""
    con.execute(f"""
        create or replace table marts.rpt_daily_kpis as
        select tenant_id, date '2026-03-01' + day::integer as kpi_date,
            (100 * version + day)::bigint as offered_count, (day * 2)::integer as interval_count,
            (0.1 * version + 0.2)::double as answer_rate, (12.5 + day)::decimal(12, 2) as revenue,
            case day when 0 then '' when 1 then null else 'a, "quoted"
        line' end as note,
            day % 2 = 0 as is_weekday, timestamp '2026-03-01 08:00:00.123456' + to_days(day::integer) as loaded_at
            {extra}
        from (select unnest(['{TENANTS[0]}', '{TENANTS[1]}']) as tenant_id), range(3) as days(day),
            (select {version} as version)
    """)
    con.execute(f"""
        create or replace table marts.dim_queues as
        select tenant_id, 'q' || n as queue_id, {version} as queue_version
        from (select unnest(['{TENANTS[0]}', '{TENANTS[1]}']) as tenant_id), range(2) as queues(n)
    """)
    con.execute("comment on table marts.rpt_daily_kpis is 'One row per tenant per local date.'")
    con.execute("comment on column marts.rpt_daily_kpis.answer_rate is 'answered / offered, a 0-1 rate'")
    con.execute("comment on table marts.dim_queues is 'One row per queue.'")
    con.close()


def a_run(run_id: str) -> None:
    """A run that read a file of each tenant and made checks: one per tenant, one naming no tenant."""
    con = warehouse.connect()
    con.execute("insert or ignore into ops.runs values (?, '2026-03-01', '2026-03-03', now(), null, 'running', null)",
                [run_id])
    for tenant in TENANTS:
        con.execute(
            "insert into ops.run_files (run_id, file_id, feed, tenant_id, delivery_date, file_name, action, "
            "rows_loaded, rows_rejected, rows_superseded, rows_skipped, message) values (?, ?, 'telephony', ?, "
            "'2026-03-01', ?, 'loaded', 10, 0, 0, 0, 'loaded')",
            [run_id, f"{run_id}-{tenant}", tenant, f"{tenant}.csv"],
        )
    for tenant in (*TENANTS, None):
        con.execute(
            "insert into ops.check_results values (?, 'rpt_daily_kpis', 'expect_column_values_to_be_between', "
            "'answer_rate', 'warning', true, 0, [], 'a 0-1 rate', now(), ?, 'great_expectations')",
            [run_id, tenant],
        )
    con.close()


def published(run_id: str, version: int = 1, extra_column: bool = False) -> None:
    a_run(run_id)
    candidate(version, extra_column)
    publish.publish(run_id)


def duck_rows(path: Path, table: str, columns: list[str]) -> list[tuple]:
    listed = ", ".join(f'"{column}"' for column in columns)
    with duckdb.connect(str(path), read_only=True) as con:
        return sorted(con.execute(f'select {listed} from marts."{table}"').fetchall(), key=repr)


def pg_rows(con, table: str, columns: list[str], where: str = "true") -> list[tuple]:
    listed = ", ".join(f'"{column}"' for column in columns)
    return sorted(con.execute(f'select {listed} from marts."{table}" where {where}').fetchall(), key=repr)


def file_columns(path: Path) -> dict[str, list[str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        tables: dict[str, list[str]] = {}
        for table, column in con.execute(
            "select table_name, column_name from duckdb_columns() where schema_name = 'marts' "
            "order by table_name, column_index"
        ).fetchall():
            tables.setdefault(table, []).append(column)
    return tables


def assert_serves_the_published_files(con) -> None:
    """Every table of the server equals the center file; runs: the center's rows (no tenant) and each
    tenant's own file's rows."""
    center = settings.published_db_path()
    tables = file_columns(center)
    served = {row[0] for row in con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()}
    assert served == set(tables)
    for table, columns in tables.items():
        if table == "runs":
            assert pg_rows(con, table, columns, "tenant_id is null") == duck_rows(center, table, columns)
            for tenant in TENANTS:
                assert pg_rows(con, table, columns, f"tenant_id = '{tenant}'") == duck_rows(
                    publish.tenant_path(tenant), table, columns)
        else:
            assert pg_rows(con, table, columns) == duck_rows(center, table, columns), table


def test_every_table_is_served_with_the_published_rows_types_and_comments(served):
    published("r-1")
    done = serving.publish("r-1")
    assert done["tenants"] == list(TENANTS)
    assert "r-1" not in str(done["server"]) and "pw" not in str(done)
    with served.superuser() as con:
        assert_serves_the_published_files(con)
        assert con.execute("select count(*) from marts.rpt_daily_kpis where note = ''").fetchone()[0] == 2
        assert con.execute("select count(*) from marts.rpt_daily_kpis where note is null").fetchone()[0] == 2
        assert con.execute("select count(*) from marts.run_checks where tenant_id is null").fetchone()[0] == 1
        types = dict(con.execute(
            "select column_name, data_type from information_schema.columns where table_schema = 'marts' "
            "and table_name = 'rpt_daily_kpis'").fetchall())
        assert types == {
            "tenant_id": "text", "kpi_date": "date", "offered_count": "bigint", "interval_count": "integer",
            "answer_rate": "double precision", "revenue": "numeric", "note": "text", "is_weekday": "boolean",
            "loaded_at": "timestamp without time zone",
        }
        # comments: the tables' and columns' descriptions of the published file, runs' tenant_id its own
        assert con.execute("select obj_description('marts.rpt_daily_kpis'::regclass)").fetchone()[0] == (
            "One row per tenant per local date.")
        assert con.execute(
            "select col_description('marts.rpt_daily_kpis'::regclass, ordinal_position) from "
            "information_schema.columns where table_schema = 'marts' and table_name = 'rpt_daily_kpis' "
            "and column_name = 'answer_rate'").fetchone()[0] == "answered / offered, a 0-1 rate"
        missing = con.execute("""
            select c.table_name, c.column_name from information_schema.columns as c
            where c.table_schema = 'marts' and c.table_name in ('runs', 'run_tenants', 'run_deliveries', 'run_checks')
            and col_description(format('marts.%I', c.table_name)::regclass, c.ordinal_position) is null
        """).fetchall()
        assert missing == []
        assert "null: the center's row" in con.execute(
            "select col_description('marts.runs'::regclass, ordinal_position) from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'runs' and column_name = 'tenant_id'").fetchone()[0]


def test_each_tenant_login_sees_only_its_own_rows_of_every_table_and_the_center_all(served):
    import psycopg

    published("r-1")
    serving.publish("r-1")
    center = settings.published_db_path()
    tables = file_columns(center)
    for tenant in TENANTS:
        url = serving.grant(tenant, f"bi_{tenant}")
        assert url.startswith(f"postgresql://bi_{tenant}:") and url.endswith(f"@127.0.0.1:{served.port}/callops")
        with psycopg.connect(url) as con:
            for table in tables:
                assert con.execute(
                    f'select count(*) from marts."{table}" where tenant_id is distinct from %s', [tenant]
                ).fetchone()[0] == 0, table
                mine = con.execute(f'select count(*) from marts."{table}"').fetchone()[0]
                own = publish.tenant_path(tenant)
                assert mine == len(duck_rows(own, table, file_columns(own)[table][:1])) > 0, table
    with served.superuser() as con:
        con.execute("set role callops_center")
        for table, columns in tables.items():
            everyone = con.execute(f'select count(*) from marts."{table}"').fetchone()[0]
            in_files = len(duck_rows(center, table, columns[:1]))
            if table == "runs":
                in_files += sum(len(duck_rows(publish.tenant_path(t), table, ["run_id"])) for t in TENANTS)
            assert everyone == in_files, table
        con.execute("reset role")
        # every table has row-level security, a policy for the center and each tenant
        policies = con.execute(
            "select tablename, string_agg(policyname, ',' order by policyname) from pg_policies "
            "where schemaname = 'marts' group by 1").fetchall()
        assert dict(policies) == {table: ",".join(sorted(["callops_center", *map(serving.tenant_role, TENANTS)]))
                                  for table in tables}
        assert con.execute("select bool_and(relrowsecurity) from pg_class where relnamespace = 'marts'::regnamespace "
                           "and relkind = 'r'").fetchone()[0] is True


def test_a_login_cannot_read_the_serving_state_and_revoke_drops_only_callops_logins(served):
    import psycopg

    published("r-1")
    serving.publish("r-1")
    url = serving.grant(TENANTS[0], "bi_reader")
    again = serving.grant(TENANTS[0], "bi_reader")  # a new password: the old one no longer logs in
    assert again != url
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url).close()
    with psycopg.connect(again) as con, pytest.raises(psycopg.errors.InsufficientPrivilege):
        con.execute("select * from callops_serving.partitions")
    with pytest.raises(serving.ServingError, match="belongs to tenant shanghai_bank"):
        serving.grant(TENANTS[1], "bi_reader")
    with pytest.raises(serving.ServingError, match="tenant nobody has no role callops_tenant_nobody"):
        serving.grant("nobody", "bi_nobody")
    with pytest.raises(serving.ServingError, match="role callops_center is not a callops login"):
        serving.revoke("callops_center")
    serving.revoke("bi_reader")
    with pytest.raises(serving.ServingError, match="no login bi_reader"):
        serving.revoke("bi_reader")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(again).close()


def test_a_second_publish_copies_only_the_changed_partitions(served):
    published("r-1")
    first = serving.publish("r-1")
    assert first["partitions_copied"] > 0 and first["tables_rebuilt"]
    published("r-2")  # the marts unchanged; the run log gains a run
    second = serving.publish("r-2")
    assert second["tables_rebuilt"] == []
    with duckdb.connect(str(settings.published_db_path()), read_only=True) as con:
        days = con.execute("select count(distinct (tenant_id, kpi_date)) from marts.rpt_daily_kpis").fetchone()[0]
    # only the run tables' partitions of the day of the new run moved: not a mart's
    assert second["partitions_copied"] < first["partitions_copied"] - days
    with served.superuser() as con:
        assert_serves_the_published_files(con)
    third = serving.publish("r-2")  # nothing changed at all
    assert (third["partitions_copied"], third["partitions_removed"], third["rows_copied"]) == (0, 0, 0)
    # one tenant's figures change: that tenant's days alone are copied
    con = warehouse.connect()
    con.execute("update marts.rpt_daily_kpis set offered_count = offered_count + 1 "
                f"where tenant_id = '{TENANTS[1]}' and kpi_date = date '2026-03-02'")
    con.close()
    a_run("r-3")
    publish.publish("r-3")
    fourth = serving.publish("r-3")
    with served.superuser() as con:
        assert_serves_the_published_files(con)
        assert con.execute("select partitions_copied from callops_serving.publishes order by published_at desc "
                           "limit 1").fetchone()[0] == fourth["partitions_copied"]


def test_a_release_with_new_columns_swaps_the_table_in_with_its_policies_and_comments(served):
    import psycopg

    published("r-1")
    serving.publish("r-1")
    url = serving.grant(TENANTS[0], "bi_swap")
    published("r-2", version=2, extra_column=True)
    done = serving.publish("r-2")
    assert done["tables_rebuilt"] == ["rpt_daily_kpis"]
    with served.superuser() as con:
        assert_serves_the_published_files(con)
        assert con.execute("select obj_description('marts.rpt_daily_kpis'::regclass)").fetchone()[0]
    with psycopg.connect(url) as con:
        assert {row[0] for row in con.execute("select distinct tenant_id from marts.rpt_daily_kpis")} == {TENANTS[0]}
        assert con.execute("select count(release_note) from marts.rpt_daily_kpis").fetchone()[0] == 3


def test_a_reader_sees_the_old_or_the_new_version_never_a_mix(served):
    import psycopg

    published("r-1", version=1)
    serving.publish("r-1")
    seen: list[frozenset] = []
    stop = threading.Event()
    failed: list[BaseException] = []

    def reader() -> None:
        try:
            with psycopg.connect(served.url, autocommit=True) as con:
                while not stop.is_set():
                    # one statement over both marts and every tenant: one version of all
                    with con.transaction():
                        con.execute("set transaction isolation level repeatable read")
                        kpis = con.execute("select distinct offered_count / 100 from marts.rpt_daily_kpis").fetchall()
                        queues = con.execute("select distinct queue_version from marts.dim_queues").fetchall()
                    seen.append(frozenset(row[0] for row in kpis + queues))
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failed.append(error)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        while len(seen) < 3:
            time.sleep(0.01)
        published("r-2", version=2)
        serving.publish("r-2")
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join()
    assert not failed
    assert set(seen) == {frozenset({1}), frozenset({2})}


def test_a_publish_while_the_server_is_down_fails_naming_it_and_the_next_catches_up(served):
    published("r-1", version=1)
    serving.publish("r-1")
    published("r-2", version=2)
    served.stop()
    try:
        with pytest.raises(serving.ServingError) as failure:
            serving.publish("r-2")
    finally:
        served.start()
    message = str(failure.value)
    assert f"PostgreSQL 127.0.0.1:{served.port}/callops: cannot connect" in message
    assert "pw" not in message and "quotes" not in message
    published("r-3", version=3)
    done = serving.publish("r-3")
    assert done["partitions_copied"] > 0
    with served.superuser() as con:
        assert_serves_the_published_files(con)
        assert {row[0] for row in con.execute("select distinct queue_version from marts.dim_queues")} == {3}


def test_a_refused_login_names_the_server_without_the_password(served):
    url = served.url.replace("callops:", "callops:", 1).replace("owner", "wrong", 1)
    with pytest.raises(serving.ServingError) as failure:
        serving.grant(TENANTS[0], "bi_x", url=url)
    assert f"127.0.0.1:{served.port}/callops: cannot connect" in str(failure.value)
    assert "wrong" not in str(failure.value)


def test_the_serve_step_fails_the_run_naming_it_keeps_the_publish_and_the_next_run_catches_up(served, monkeypatch):
    from callops import pipeline

    def a_pipeline_run(run_id: str, version: int) -> None:
        published(run_id, version)
        for step in ("load", "build", "validate", "publish"):
            pipeline._record_step_now(run_id, step, "success", {})

    a_pipeline_run("r-1", 1)
    assert pipeline.serve_marts("r-1")["tables_rebuilt"]
    pipeline.finish_run("r-1")
    a_pipeline_run("r-2", 2)
    served.stop()
    try:
        with pytest.raises(pipeline.DataProblem, match="serving the marts failed: PostgreSQL 127.0.0.1"):
            pipeline.serve_marts("r-2")
        with pytest.raises(pipeline.DataProblem) as finished:
            pipeline.finish_run("r-2")
    finally:
        served.start()
    assert f"serve failed: PostgreSQL 127.0.0.1:{served.port}/callops: cannot connect" in str(finished.value)
    assert "nothing published" not in str(finished.value)
    # the DuckDB publish of r-2 is in place
    assert duck_rows(settings.published_db_path(), "dim_queues", ["queue_version"])[0] == (2,)
    a_pipeline_run("r-3", 2)
    pipeline.serve_marts("r-3")
    pipeline.finish_run("r-3")
    with served.superuser() as con:
        assert_serves_the_published_files(con)
        assert {row[0] for row in con.execute("select distinct queue_version from marts.dim_queues")} == {2}
    monkeypatch.delenv(settings.SERVING_URL_ENV)
    assert pipeline.serve_marts("r-3") == {"skipped": "CALLOPS_SERVING_URL is not set"}


def test_callops_serving_grant_prints_a_connection_string_and_revoke_removes_the_login(served, capsys):
    import psycopg

    from callops import cli

    published("r-1")
    serving.publish("r-1")
    assert cli.main(["serving", "grant", "--tenant", TENANTS[1], "--login", "metabase_telco"]) == 0
    url = next(word for word in capsys.readouterr().out.split() if word.startswith("postgresql://"))
    with psycopg.connect(url) as con:
        assert {row[0] for row in con.execute("select distinct tenant_id from marts.rpt_daily_kpis")} == {TENANTS[1]}
    assert cli.main(["serving", "revoke", "--login", "metabase_telco"]) == 0
    assert cli.main(["serving", "revoke", "--login", "metabase_telco"]) == 1
    assert "callops serving revoke: PostgreSQL 127.0.0.1" in capsys.readouterr().out


def test_a_tenant_login_sees_its_own_benchmark_values_but_no_center_figure(served):
    import psycopg

    a_run("r-1")
    candidate()
    con = warehouse.connect()
    con.execute(f"""
        create or replace table marts.rpt_tenant_benchmark as
        select 'day' as period_grain, date '2026-03-01' as period_start, tenant_id, 'answer_rate' as kpi_name,
            value::double as kpi_value, rank() over (order by value desc) as tenant_rank, 2 as tenants_ranked,
            2 as tenants_with_value, false as is_center_shareable, 0.6 as center_p25, 0.65 as center_median,
            0.7 as center_p75, 0.7 as center_best
        from (values ('{TENANTS[0]}', 0.6), ('{TENANTS[1]}', 0.7)) as v(tenant_id, value)
    """)
    con.close()
    publish.publish("r-1")
    serving.publish("r-1")
    with psycopg.connect(serving.grant(TENANTS[0], "bi_bank")) as con:
        assert con.execute("select tenant_id, kpi_name, kpi_value, is_center_shareable "
                           "from marts.rpt_tenant_benchmark").fetchall() == [(TENANTS[0], "answer_rate", 0.6, False)]
        for figure in ("center_best", "center_median", "center_p25", "center_p75", "tenant_rank", "tenants_ranked",
                       "tenants_with_value"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                con.execute(f"select {figure} from marts.rpt_tenant_benchmark")
            con.rollback()
    with served.superuser() as con:
        con.execute("set role callops_center")
        assert con.execute("select count(center_best) from marts.rpt_tenant_benchmark").fetchone()[0] == 2
