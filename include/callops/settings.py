"""Where callops keeps things: paths and environment, read lazily (never at import).

Everything callops writes lives under ``CALLOPS_HOME`` (default: ``data/`` in the
project directory)::

    landing/<feed>/<tenant_id>/<YYYY-MM-DD>/<files>   deliveries, as they arrive
    warehouse/build.duckdb                            private build warehouse (pipeline only)
    published/callops.duckdb                          the file BI tools open, read-only
    airflow/                                          embedded Airflow home (SQLite metadata)
    dbt/                                              dbt target and logs
    runs/                                             per-run Airflow logs of `callops run`, and progress.json
                                                      files its tasks write (callops.progress)
    data_docs/<run_id>/index.html                     the run's Great Expectations Data Docs (offline)
    secrets/                                          generated pseudonymisation key (0600), Airflow login
    tmp/                                              decoded copies of deliveries while they load
    alerts/alerts.jsonl                               every alert callops raised (scheduling, failures, deadlines)

Everything but landing/ and published/callops.duckdb is owner-only (callops.private).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR_ENV = "CALLOPS_PROJECT_DIR"
HOME_ENV = "CALLOPS_HOME"
CONFIG_ENV = "CALLOPS_CONFIG"
DUCKDB_MEMORY_LIMIT_ENV = "CALLOPS_DUCKDB_MEMORY_LIMIT"
DUCKDB_THREADS_ENV = "CALLOPS_DUCKDB_THREADS"
LOAD_WORKERS_ENV = "CALLOPS_LOAD_WORKERS"
ALERT_WEBHOOK_URL_ENV = "CALLOPS_ALERT_WEBHOOK_URL"
ALERT_EMAIL_ENV = "CALLOPS_ALERT_EMAIL"
LANDING_POLL_SECONDS_ENV = "CALLOPS_LANDING_POLL_SECONDS"
PUBLISHED_GROUP_ENV = "CALLOPS_PUBLISHED_GROUP"
SERVING_URL_ENV = "CALLOPS_SERVING_URL"

DEFAULT_DUCKDB_MEMORY_LIMIT = "3GB"
DEFAULT_DUCKDB_THREADS = 2
DEFAULT_LOAD_WORKERS = 2
DEFAULT_LANDING_POLL_SECONDS = 30


def project_dir() -> Path:
    """The repository root: holds dags/, dbt_project/, expectations/ and callops.yml."""
    configured = os.environ.get(PROJECT_DIR_ENV)
    if configured:
        return Path(configured).resolve()
    # include/callops/settings.py -> repository root (editable install or mounted checkout)
    return Path(__file__).resolve().parents[2]


def home() -> Path:
    """CALLOPS_HOME. Whoever works under it creates files owner-only from then on (:func:`restrict_umask`)."""
    restrict_umask()
    configured = os.environ.get(HOME_ENV)
    base = Path(configured) if configured else project_dir() / "data"
    return base.resolve()


def restrict_umask() -> None:
    """Umask 077: the files callops, DuckDB, dbt and Airflow create under CALLOPS_HOME are the owner's
    alone (read and write) whatever umask started the process (callops.private)."""
    os.umask(0o077)


def config_path() -> Path:
    configured = os.environ.get(CONFIG_ENV)
    return Path(configured).resolve() if configured else project_dir() / "callops.yml"


def landing_dir() -> Path:
    return home() / "landing"


def warehouse_dir() -> Path:
    return home() / "warehouse"


def build_db_path() -> Path:
    return warehouse_dir() / "build.duckdb"


def warehouse_lock_path() -> Path:
    return warehouse_dir() / "warehouse.lock"


def run_lock_path() -> Path:
    return warehouse_dir() / "run.lock"


def published_dir() -> Path:
    return home() / "published"


def published_db_path() -> Path:
    return published_dir() / "callops.duckdb"


def published_group() -> str:
    """The group that may read the tenants' published files (empty: their owner alone)."""
    return os.environ.get(PUBLISHED_GROUP_ENV, "").strip()


def serving_url() -> str:
    """The PostgreSQL server every publish also serves the marts from (callops.serving); empty: none."""
    return os.environ.get(SERVING_URL_ENV, "").strip()


def data_docs_dir() -> Path:
    return home() / "data_docs"


def airflow_home() -> Path:
    return home() / "airflow"


def dbt_project_dir() -> Path:
    return project_dir() / "dbt_project"


def dbt_work_dir() -> Path:
    return home() / "dbt"


def runs_dir() -> Path:
    return home() / "runs"


def dags_dir() -> Path:
    return project_dir() / "dags"


def expectations_dir() -> Path:
    return project_dir() / "expectations"


def duckdb_memory_limit() -> str:
    return os.environ.get(DUCKDB_MEMORY_LIMIT_ENV, DEFAULT_DUCKDB_MEMORY_LIMIT)


def duckdb_threads() -> int:
    return int(os.environ.get(DUCKDB_THREADS_ENV, DEFAULT_DUCKDB_THREADS))


def load_workers() -> int:
    """Files a load reads at once (each in its own transaction): one file's parse and insert leave
    part of the DuckDB threads idle."""
    return max(1, int(os.environ.get(LOAD_WORKERS_ENV) or DEFAULT_LOAD_WORKERS))


def alerts_dir() -> Path:
    return home() / "alerts"


def landing_index_path() -> Path:
    """What the scheduled loads have already tried: landing file -> (size, mtime) (the landing watch)."""
    return warehouse_dir() / "landing_seen.json"


def alert_webhook_url() -> str:
    return os.environ.get(ALERT_WEBHOOK_URL_ENV, "").strip()


def alert_email() -> str:
    return os.environ.get(ALERT_EMAIL_ENV, "").strip()


def landing_poll_seconds() -> float:
    """How often the landing sensors look; a file must also be unchanged this long before it is loaded."""
    return float(os.environ.get(LANDING_POLL_SECONDS_ENV) or DEFAULT_LANDING_POLL_SECONDS)
