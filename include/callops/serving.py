"""Serve the published marts from PostgreSQL, for BI tools that want a database server.

When ``CALLOPS_SERVING_URL`` (a ``postgresql://`` URL) is set, every publish is followed by the
``serve`` step: schema ``marts`` of that database is brought to exactly the content of the published
center file (``published/callops.duckdb``: every tenant, a held-back tenant with its last good rows),
its table and column comments included.

Only what changed is copied. Each table is cut into partitions: ``tenant_id`` and the table's day (its
first DATE column, else its first TIMESTAMP column's date; a table without either: the tenant alone).
DuckDB computes a content hash per partition; the hashes last served are kept on the server
(``callops_serving.partitions``), so a publish deletes and copies again only the partitions whose hash
changed, or that are gone, and a publish the server missed (it was down) is caught up by the same
comparison. Rows go through ``COPY ... FROM STDIN`` (psycopg 3), fed by a CSV DuckDB writes, never row
by row. Every change of one publish is one transaction: a reader sees the old or the new version of
every tenant, never a mix. A table whose columns changed (a new release) is made again as a new table
and swapped in (drop, rename) within that transaction, with its grants, policies and comments.

``marts.runs`` gains a ``tenant_id``: null on the center's rows (counts over every tenant), a tenant's
id on its own rows (the counts of its own file, ``published/tenants/<tenant_id>.duckdb``).

Roles: ``callops_center`` sees every row; ``callops_tenant_<tenant_id>`` (one per tenant, NOLOGIN)
sees only its own rows of every table through row-level security, run tables included. Rows with no
tenant (the center's runs, a check naming no tenant) are the center's alone. ``callops serving grant``
makes a login in a tenant's role (:func:`grant`); ``callops serving revoke`` removes it (:func:`revoke`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import duckdb

from callops import settings, warehouse
from callops.publish import CENTER_FIGURES, PUBLISHED_SCHEMA, TENANT_COLUMN, schema_tables, tenant_files

SCHEMA = PUBLISHED_SCHEMA  # the published file's schema, and the server's
STATE_SCHEMA = "callops_serving"  # what the server holds: the partitions' hashes, the tables' shapes
CENTER_ROLE = "callops_center"
TENANT_ROLE_PREFIX = "callops_tenant_"
LOGIN_MARK = "callops serving login of tenant "  # the comment on every login `callops serving grant` made
LOGIN_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
COPY_BLOCK_BYTES = 1 << 20
CONNECT_TIMEOUT_SECONDS = 10
# One publish at a time on the server (pg_advisory_xact_lock): two would each delete the other's rows.
LOCK_KEY = 20_240_520

TYPES = {
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double precision",
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
}
DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")
RUNS_TENANT_COMMENT = (
    "the tenant whose own file these counts are (its deliveries and checks only); null: the center's row, "
    "counted over every tenant (the callops_center role alone sees it)"
)


class ServingError(RuntimeError):
    pass


# --- the server -----------------------------------------------------------------------------------


def server(url: str) -> str:
    """The server as an error names it: host, port and database, never the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - a malformed URL: named without its text (it may hold a password)
        return "the PostgreSQL server of CALLOPS_SERVING_URL (not a valid URL)"
    return f"PostgreSQL {info.get('host') or 'localhost'}:{info.get('port') or 5432}/{info.get('dbname') or '?'}"


def _hide(url: str, text: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    with contextlib.suppress(Exception):
        password = conninfo_to_dict(url).get("password")
        if password:
            text = text.replace(str(password), "***")
    return " ".join(text.split())


def _url(url: str | None) -> str:
    url = url or settings.serving_url()
    if not url:
        raise ServingError(f"{settings.SERVING_URL_ENV} is not set: no PostgreSQL server to serve the marts from")
    if not url.startswith(("postgresql://", "postgres://")):
        raise ServingError(f"{settings.SERVING_URL_ENV} is not a postgresql:// URL")
    return url


@contextlib.contextmanager
def _connect(url: str, doing: str) -> Iterator:
    """A connection to the server; an unreachable or refusing server, and any error while ``doing``, is a
    ServingError naming the server and what failed."""
    import psycopg

    try:
        con = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as error:
        raise ServingError(f"{server(url)}: cannot connect ({doing}): {_hide(url, str(error))}") from None
    try:
        yield con
        con.commit()
    except psycopg.Error as error:
        with contextlib.suppress(psycopg.Error):
            con.rollback()
        raise ServingError(f"{server(url)}: {doing} failed: {_hide(url, str(error))}") from None
    except BaseException:
        with contextlib.suppress(psycopg.Error):
            con.rollback()
        raise
    finally:
        con.close()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def tenant_role(tenant: str) -> str:
    return f"{TENANT_ROLE_PREFIX}{tenant}"


# --- what the published file holds ----------------------------------------------------------------


def _pg_type(table: str, column: str, duckdb_type: str) -> str:
    if duckdb_type in TYPES:
        return TYPES[duckdb_type]
    decimal = DECIMAL.match(duckdb_type)
    if decimal:
        return f"numeric({decimal[1]},{decimal[2]})"
    raise ServingError(
        f"{SCHEMA}.{table}.{column}: type {duckdb_type} has no PostgreSQL type every BI tool reads "
        f"(served: {', '.join(TYPES)}, DECIMAL)"
    )


def _day_column(columns: list[tuple[str, str]]) -> str | None:
    """The partition's day: the first DATE column, else the first TIMESTAMP column's date."""
    for column, data_type in columns:
        if data_type == "DATE":
            return f'"{column}"'
    for column, data_type in columns:
        if data_type == "TIMESTAMP":
            return f'cast("{column}" as date)'
    return None


def _sources(con: duckdb.DuckDBPyConnection, center: Path) -> dict[str, dict]:
    """Each table of the center file (attached as ``center``) as a DuckDB view ``serve_<n>``: its columns
    with their PostgreSQL types, comments and partition key. ``runs`` unions the center's rows with each
    tenant's own (its file's runs), with a tenant_id."""
    tables = schema_tables(con, "center")
    if not tables:
        raise ServingError(f"{center}: no tables in schema {SCHEMA}; nothing to serve")
    comments = {
        table: comment for table, comment in con.execute(
            "select table_name, comment from duckdb_tables() where database_name = 'center' and schema_name = ?",
            [SCHEMA],
        ).fetchall()
    }
    column_comments = {
        (table, column): comment for table, column, comment in con.execute(
            "select table_name, column_name, comment from duckdb_columns() where database_name = 'center' "
            "and schema_name = ?",
            [SCHEMA],
        ).fetchall()
    }
    sources = {}
    for number, (table, columns) in enumerate(sorted(tables.items())):
        query = f'select * from center.{SCHEMA}."{table}"'
        if table == "runs" and TENANT_COLUMN not in dict(columns):
            query = _runs_query(con, center, columns)
            columns = [*columns, (TENANT_COLUMN, "VARCHAR")]
            column_comments[(table, TENANT_COLUMN)] = RUNS_TENANT_COMMENT
        if TENANT_COLUMN not in dict(columns):
            raise ServingError(
                f"{center}: {SCHEMA}.{table}: no {TENANT_COLUMN} column, so no tenant's role can be given its rows"
            )
        view = f"serve_{number}"
        con.execute(f"create or replace temp view {view} as {query}")
        day = _day_column(columns)
        key = f"coalesce({TENANT_COLUMN}, '') || '|' || " + (
            f"coalesce(strftime({day}, '%Y-%m-%d'), '')" if day else "''"
        )
        sources[table] = {
            "view": view,
            "columns": [(column, _pg_type(table, column, data_type)) for column, data_type in columns],
            "day": day,
            "key": key,
            "comment": comments.get(table),
            "column_comments": {column: column_comments.get((table, column)) for column, _ in columns},
        }
    return sources


def _runs_query(con: duckdb.DuckDBPyConnection, center: Path, columns: list[tuple[str, str]]) -> str:
    listed = ", ".join(f'"{column}"' for column, _ in columns)
    parts = [f"select {listed}, null::varchar as {TENANT_COLUMN} from center.{SCHEMA}.runs"]
    for number, path in enumerate(tenant_files(center)):
        tenant, alias = path.stem, f"tenant_{number}"
        con.execute(f"attach {warehouse.sql_literal(str(path))} as {alias} (read_only)")
        has = {
            row[0] for row in con.execute(
                "select column_name from duckdb_columns() where database_name = ? and schema_name = ? "
                "and table_name = 'runs'",
                [alias, SCHEMA],
            ).fetchall()
        }
        if not has:
            continue
        # by name: a column the tenant's file lacks (an earlier release wrote it) is null
        picked = ", ".join(f'"{column}"' if column in has else f"null as \"{column}\"" for column, _ in columns)
        parts.append(f"select {picked}, {warehouse.sql_literal(tenant)} from {alias}.{SCHEMA}.runs")
    return " union all ".join(parts)


def _signature(source: dict) -> str:
    return json.dumps(source["columns"])


def _comments_hash(source: dict) -> str:
    text = json.dumps([source["comment"], sorted(source["column_comments"].items())])
    return hashlib.sha256(text.encode()).hexdigest()


def _hashes(con: duckdb.DuckDBPyConnection, source: dict) -> dict[str, str]:
    """Partition key -> content hash (rows, and the sum of their hashes: the rows' order does not count)."""
    listed = ", ".join(f'"{column}"' for column, _ in source["columns"])
    return dict(con.execute(
        f"select {source['key']} as part, count(*)::varchar || ':' || sum(hash({listed})::hugeint)::varchar "
        f"from {source['view']} group by part"
    ).fetchall())


# --- publish --------------------------------------------------------------------------------------


STATE_DDL = f"""
create schema if not exists {SCHEMA};
create schema if not exists {STATE_SCHEMA};
create table if not exists {STATE_SCHEMA}.tables (
    table_name text primary key, columns text not null, comments_hash text not null
);
create table if not exists {STATE_SCHEMA}.partitions (
    table_name text not null, partition_key text not null, content_hash text not null,
    primary key (table_name, partition_key)
);
create table if not exists {STATE_SCHEMA}.publishes (
    run_id text not null, published_at timestamp not null, tables_rebuilt integer not null,
    partitions_copied integer not null, partitions_removed integer not null, rows_copied bigint not null
);
comment on schema {STATE_SCHEMA} is 'What callops last served into schema {SCHEMA}: the tables'' columns and each
partition''s content hash (only changed partitions are copied again), and a row per publish.';
"""


def publish(run_id: str, center: Path | None = None, url: str | None = None) -> dict:
    """Bring schema ``marts`` of the serving database to the content of the published ``center`` file,
    in one transaction, copying only the partitions that changed. Returns what it did."""
    url = _url(url)
    center = center or settings.published_db_path()
    if not center.exists():
        raise ServingError(f"{center}: no published file to serve")
    began = time.perf_counter()
    tmp = settings.home() / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(f"set temp_directory = {warehouse.sql_literal(str(tmp))}")
        con.execute(f"attach {warehouse.sql_literal(str(center))} as center (read_only)")
        sources = _sources(con, center)
        hashes = {table: _hashes(con, source) for table, source in sources.items()}
        tenants = sorted({
            key.split("|", 1)[0] for parts in hashes.values() for key in parts if not key.startswith("|")
        })
        done = {"tables_rebuilt": [], "partitions_copied": 0, "partitions_removed": 0, "rows_copied": 0}
        with _connect(url, "serving the marts") as pg, pg.cursor() as cur:
            cur.execute("set local datestyle = 'ISO, YMD'")
            cur.execute("select pg_advisory_xact_lock(%s)", [LOCK_KEY])
            cur.execute(STATE_DDL)
            _roles(cur, tenants)
            cur.execute(f"select table_name, columns, comments_hash from {STATE_SCHEMA}.tables")
            served = {table: (columns, comments) for table, columns, comments in cur.fetchall()}
            cur.execute(
                "select table_name from information_schema.tables where table_schema = %s "
                "and table_type = 'BASE TABLE'",
                [SCHEMA],
            )
            present = {row[0] for row in cur.fetchall()}
            for table, source in sources.items():
                shape = served.get(table, ("", ""))
                rebuild = table not in present or shape[0] != _signature(source)
                _serve_table(con, cur, table, source, hashes[table], rebuild, tenants, tmp, run_id, done)
                if rebuild or shape[1] != _comments_hash(source):
                    _comment(cur, table, source)
                    cur.execute(
                        f"insert into {STATE_SCHEMA}.tables values (%s, %s, %s) on conflict (table_name) do update "
                        "set columns = excluded.columns, comments_hash = excluded.comments_hash",
                        [table, _signature(source), _comments_hash(source)],
                    )
            for table in sorted(set(served) - set(sources)):  # a table the release dropped
                cur.execute(f"drop table if exists {SCHEMA}.{_ident(table)}")
                cur.execute(f"delete from {STATE_SCHEMA}.partitions where table_name = %s", [table])
                cur.execute(f"delete from {STATE_SCHEMA}.tables where table_name = %s", [table])
            cur.execute(
                f"insert into {STATE_SCHEMA}.publishes values (%s, now() at time zone 'utc', %s, %s, %s, %s)",
                [run_id, len(done["tables_rebuilt"]), done["partitions_copied"], done["partitions_removed"],
                 done["rows_copied"]],
            )
    return {
        "server": server(url),
        "tables": len(sources),
        "tenants": tenants,
        **done,
        "seconds": round(time.perf_counter() - began, 3),
    }


def _serve_table(
    con: duckdb.DuckDBPyConnection, cur, table: str, source: dict, hashes: dict[str, str], rebuild: bool,
    tenants: list[str], tmp: Path, run_id: str, done: dict,
) -> None:
    """One table: made again and swapped in (``rebuild``: new, or its columns changed), or its changed
    and removed partitions replaced."""
    columns = ", ".join(f"{_ident(column)} {pg_type}" for column, pg_type in source["columns"])
    target = f"{SCHEMA}.{_ident(table)}"
    if rebuild:
        new = f"{table[:40]}__serving_new"
        cur.execute(f"drop table if exists {SCHEMA}.{_ident(new)}")
        cur.execute(f"create table {SCHEMA}.{_ident(new)} ({columns})")
        done["rows_copied"] += _copy(con, cur, f"{SCHEMA}.{_ident(new)}", source, None, tmp, run_id)
        cur.execute(f"drop table if exists {target}")
        cur.execute(f"alter table {SCHEMA}.{_ident(new)} rename to {_ident(table)}")
        cur.execute(f"delete from {STATE_SCHEMA}.partitions where table_name = %s", [table])
        _insert_hashes(cur, table, hashes)
        _secure(cur, table, source, tenants, new_table=True)
        done["tables_rebuilt"].append(table)
        done["partitions_copied"] += len(hashes)
        return
    cur.execute(f"select partition_key, content_hash from {STATE_SCHEMA}.partitions where table_name = %s", [table])
    before = dict(cur.fetchall())
    changed = sorted(key for key, content in hashes.items() if before.get(key) != content)
    removed = sorted(set(before) - set(hashes))
    _secure(cur, table, source, tenants, new_table=False)
    if not changed and not removed:
        return
    cur.execute("create temp table serving_parts (partition_key text primary key) on commit drop")
    with cur.copy("copy serving_parts from stdin") as copy:
        for key in changed + removed:
            copy.write_row([key])
    day = source["day"]  # `"column"` or `cast("column" as date)`: the same in PostgreSQL
    pg_key = f"coalesce({TENANT_COLUMN}, '') || '|' || " + (
        f"coalesce(to_char({day}, 'YYYY-MM-DD'), '')" if day else "''"
    )
    cur.execute(f"delete from {target} where ({pg_key}) in (select partition_key from serving_parts)")
    if changed:
        cur.execute(f"create temp table serving_rows (like {target}) on commit drop")
        done["rows_copied"] += _copy(con, cur, "serving_rows", source, changed, tmp, run_id)
        cur.execute(f"insert into {target} select * from serving_rows")
        cur.execute("drop table serving_rows")
    cur.execute(
        f"delete from {STATE_SCHEMA}.partitions where table_name = %s "
        "and partition_key in (select partition_key from serving_parts)",
        [table],
    )
    cur.execute("drop table serving_parts")
    _insert_hashes(cur, table, {key: hashes[key] for key in changed})
    done["partitions_copied"] += len(changed)
    done["partitions_removed"] += len(removed)


def _insert_hashes(cur, table: str, hashes: dict[str, str]) -> None:
    if hashes:
        with cur.copy(f"copy {STATE_SCHEMA}.partitions (table_name, partition_key, content_hash) from stdin") as copy:
            for key, content in hashes.items():
                copy.write_row([table, key, content])


def _copy(
    con: duckdb.DuckDBPyConnection, cur, into: str, source: dict, keys: list[str] | None, tmp: Path, run_id: str
) -> int:
    """``source``'s rows (of the partitions ``keys``; None: all) into the server's table ``into``, through
    a CSV DuckDB writes under CALLOPS_HOME/tmp, streamed to ``COPY ... FROM STDIN`` in blocks."""
    listed = ", ".join(f'"{column}"' for column, _ in source["columns"])
    where = ""
    if keys is not None:
        con.execute("create or replace temp table serving_keys (part varchar)")
        con.executemany("insert into serving_keys values (?)", [[key] for key in keys])
        where = f" where {source['key']} in (select part from serving_keys)"
    path = tmp / f"serving.{re.sub(r'[^A-Za-z0-9_.-]', '_', run_id)}.csv"
    try:
        written = con.execute(
            f"copy (select {listed} from {source['view']}{where}) to {warehouse.sql_literal(str(path))} "
            "(format csv, header false)"
        ).fetchone()[0]
        names = ", ".join(_ident(column) for column, _ in source["columns"])
        with cur.copy(f"copy {into} ({names}) from stdin (format csv)") as copy, path.open("rb") as rows:
            while block := rows.read(COPY_BLOCK_BYTES):
                copy.write(block)
        return written
    finally:
        path.unlink(missing_ok=True)


def _roles(cur, tenants: list[str]) -> None:
    """callops_center and each tenant's role (NOLOGIN), created when missing; usage of the schema."""
    cur.execute("select rolname from pg_roles where rolname = %s or rolname like %s",
                [CENTER_ROLE, TENANT_ROLE_PREFIX.replace("_", r"\_") + "%"])
    existing = {row[0] for row in cur.fetchall()}
    for role in [CENTER_ROLE, *map(tenant_role, tenants)]:
        if role not in existing:
            cur.execute(f"create role {_ident(role)} nologin")
        cur.execute(f"grant usage on schema {SCHEMA} to {_ident(role)}")


def _secure(cur, table: str, source: dict, tenants: list[str], new_table: bool) -> None:
    """Row-level security on ``marts.<table>``: select for callops_center (every row) and each tenant's
    role (its rows only: a row with no tenant is the center's). Of a table comparing the tenants
    (publish.CENTER_FIGURES) a tenant's role may select every column but the center figures: its file
    shows those where enough tenants have a value, the server not at all."""
    target = f"{SCHEMA}.{_ident(table)}"
    existing: set[str] = set()
    if not new_table:
        cur.execute("select policyname from pg_policies where schemaname = %s and tablename = %s", [SCHEMA, table])
        existing = {row[0] for row in cur.fetchall()}
    else:
        cur.execute(f"alter table {target} enable row level security")
    wanted = {CENTER_ROLE: "true"} | {
        tenant_role(tenant): f"{TENANT_COLUMN} = {_literal(tenant)}" for tenant in tenants
    }
    figures = CENTER_FIGURES.get(table)
    hidden = {*figures["when_shareable"], *figures["never"]} if figures else set()
    tenant_columns = ", ".join(_ident(column) for column, _ in source["columns"] if column not in hidden)
    for role, condition in wanted.items():
        if role in existing:
            continue
        if hidden and role != CENTER_ROLE:
            cur.execute(f"grant select ({tenant_columns}) on {target} to {_ident(role)}")
        else:
            cur.execute(f"grant select on {target} to {_ident(role)}")
        cur.execute(f"create policy {_ident(role)} on {target} for select to {_ident(role)} using ({condition})")


def _comment(cur, table: str, source: dict) -> None:
    target = f"{SCHEMA}.{_ident(table)}"
    cur.execute(f"comment on table {target} is {_literal(_fold(source['comment']))}"
                if source["comment"] else f"comment on table {target} is null")
    for column, comment in source["column_comments"].items():
        text = _literal(_fold(comment)) if comment else "null"
        cur.execute(f"comment on column {target}.{_ident(column)} is {text}")


def _fold(text: str) -> str:
    return " ".join(text.split())


# --- logins ---------------------------------------------------------------------------------------


def grant(tenant: str, login: str, url: str | None = None) -> str:
    """A login in ``tenant``'s role (made, or its password reset): returns its connection string."""
    from psycopg.conninfo import conninfo_to_dict

    url = _url(url)
    if not LOGIN_PATTERN.match(login):
        raise ServingError(f"login {login!r}: a login is a lowercase letter, then lowercase letters, digits or _")
    if login == CENTER_ROLE or login.startswith(TENANT_ROLE_PREFIX):
        raise ServingError(f"login {login}: the names {CENTER_ROLE} and {TENANT_ROLE_PREFIX}* are callops' roles")
    password = secrets.token_urlsafe(24)
    role = tenant_role(tenant)
    with _connect(url, f"granting login {login}") as pg, pg.cursor() as cur:
        cur.execute("select 1 from pg_roles where rolname = %s", [role])
        if cur.fetchone() is None:
            raise ServingError(
                f"{server(url)}: tenant {tenant} has no role {role} yet: nothing of it was served "
                "(a publish with CALLOPS_SERVING_URL set makes it)"
            )
        owner = _login_tenant(cur, login)
        if owner is None:
            cur.execute(f"create role {_ident(login)} login password {_literal(password)} in role {_ident(role)}")
            cur.execute(f"comment on role {_ident(login)} is {_literal(LOGIN_MARK + tenant)}")
        elif owner == tenant:
            cur.execute(f"alter role {_ident(login)} with login password {_literal(password)}")
        elif owner == "":
            raise ServingError(f"{server(url)}: role {login} exists and is not a callops login; choose another name")
        else:
            raise ServingError(
                f"{server(url)}: login {login} belongs to tenant {owner}; revoke it first (callops serving revoke)"
            )
    info = conninfo_to_dict(url)
    host = info.get("host") or "localhost"
    port = info.get("port") or 5432
    quoted = urllib.parse.quote(login, safe="") + ":" + urllib.parse.quote(password, safe="")
    return f"postgresql://{quoted}@{host}:{port}/{info.get('dbname') or ''}"


def _login_tenant(cur, login: str) -> str | None:
    """The tenant of a callops login; "" for a role that is not one; None when there is no such role."""
    cur.execute(
        "select shobj_description(oid, 'pg_authid') from pg_roles where rolname = %s", [login]
    )
    row = cur.fetchone()
    if row is None:
        return None
    comment = row[0] or ""
    return comment[len(LOGIN_MARK):] if comment.startswith(LOGIN_MARK) else ""


def revoke(login: str, url: str | None = None) -> None:
    """Drop a login ``grant`` made; any other role is refused."""
    url = _url(url)
    with _connect(url, f"revoking login {login}") as pg, pg.cursor() as cur:
        owner = _login_tenant(cur, login)
        if owner is None:
            raise ServingError(f"{server(url)}: no login {login}")
        if owner == "":
            raise ServingError(f"{server(url)}: role {login} is not a callops login (callops serving grant makes them)")
        cur.execute(f"drop role {_ident(login)}")
