"""The published file as the oldest DuckDB it promises to serve reads it (``publish.OLDEST_DUCKDB_READER``).

That DuckDB is installed by ``make test`` into a venv of its own (``.venv-duckdb-oldest``, pinned with
hashes in ``requirements/duckdb-oldest.txt``). ``read_everything`` opens a published file read-only in
a subprocess of that interpreter, reads every row of every table (and view) of every schema, and
returns what it saw: the tables with their row counts and comments, every column's type and comment,
and each table it could not read with DuckDB's error. ``unusual_columns`` lists the columns whose type
a BI tool's driver may not read, ``uncommented`` the tables and columns without a description.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

OLDEST_VENV = REPO / ".venv-duckdb-oldest"
OLDEST_REQUIREMENTS = REPO / "requirements" / "duckdb-oldest.txt"

# The column types every BI tool's driver reads (ODBC, JDBC, Arrow, DuckDB 1.x): no HUGEINT (DuckDB's
# sum of integers) or UHUGEINT, no unsigned or 8-bit integers, no LIST, STRUCT, MAP, UNION or ARRAY, no
# JSON or other aliased type, no DECIMAL wider than a BIGINT, no TIME, INTERVAL or time-zone-aware timestamp.
PORTABLE_TYPES = re.compile(
    r"BOOLEAN|SMALLINT|INTEGER|BIGINT|DOUBLE|DECIMAL\((?:[1-9]|1[0-8]),\d+\)|VARCHAR|DATE|TIMESTAMP"
)

READ_EVERYTHING = """
import json, sys
import duckdb

con = duckdb.connect(sys.argv[1], read_only=True)
database = con.execute("select current_database()").fetchone()[0]
seen = {"version": duckdb.__version__, "tables": {}, "columns": [], "errors": {}}
for schema, table, comment in con.execute(
    "select schema_name, table_name, comment from duckdb_tables() where database_name = ? and not internal "
    "union all select schema_name, view_name, comment from duckdb_views() where database_name = ? and not internal "
    "order by all", [database, database]
).fetchall():
    name = f"{schema}.{table}"
    try:
        rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
    except duckdb.Error as error:
        seen["errors"][name] = str(error)
        continue
    seen["tables"][name] = {"rows": len(rows), "comment": comment}
for schema, table, column, data_type, comment in con.execute(
    "select schema_name, table_name, column_name, data_type, comment from duckdb_columns() "
    "where database_name = ? and not internal order by schema_name, table_name, column_index", [database]
).fetchall():
    seen["columns"].append([f"{schema}.{table}", column, data_type, comment])
print(json.dumps(seen))
"""


def oldest_python() -> Path:
    """The oldest reader's interpreter; the test skips where that venv cannot exist, and fails where it could."""
    python = OLDEST_VENV / "bin" / "python"
    if python.exists():
        return python
    if (platform.system(), platform.machine()) != ("Linux", "x86_64"):
        pytest.skip(
            f"{OLDEST_REQUIREMENTS.relative_to(REPO)} pins DuckDB wheels for Linux x86_64 only, so no "
            f"{OLDEST_VENV.name} on {platform.system()} {platform.machine()} (CI reads the file with it)"
        )
    pytest.fail(f"no {python}: `make duckdb-oldest` creates it (`make test` does)", pytrace=False)


def read_everything(path: Path, python: Path | None = None) -> dict:
    """Every table of the published file at ``path``, read whole by the oldest DuckDB reader (or by the
    DuckDB of ``python``)."""
    done = subprocess.run(
        [str(python or oldest_python()), "-c", READ_EVERYTHING, str(path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def unusual_columns(seen: dict) -> list[tuple[str, str, str]]:
    """(table, column, type) of each column whose type is not one every BI tool reads."""
    return [(table, column, data_type) for table, column, data_type, _ in seen["columns"]
            if not PORTABLE_TYPES.fullmatch(data_type)]  # fmt: skip


def uncommented(seen: dict) -> list[str]:
    """Each table and ``table.column`` without a comment (BI tools show it as the description)."""
    tables = [table for table, read in seen["tables"].items() if not (read["comment"] or "").strip()]
    columns = [f"{table}.{column}" for table, column, _, comment in seen["columns"] if not (comment or "").strip()]
    return tables + columns
