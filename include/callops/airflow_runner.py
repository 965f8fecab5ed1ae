"""Embedded Airflow: SQLite metadata under CALLOPS_HOME/airflow, no servers.

`callops run` triggers ``callops_pipeline`` as one DAG run with
``airflow dags test`` in a child process (the whole run in-process, with the
real scheduler logic, task states and XComs, recorded in the metadata DB),
through callops.dag_test (Airflow's CLI, made cheaper to start).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from callops import failures, settings
from callops.failures import FAILURE_FD_ENV
from callops.runs import PIPELINE_DAG_ID as DAG_ID
from callops.tasks import ONE_PROCESS_ENV, WRITER_POOL

DAGS_BUNDLE = "dags-folder"  # Airflow's default DAG bundle: AIRFLOW__CORE__DAGS_FOLDER
TAIL_LINES = 200  # of a run's Airflow output kept in memory (callops run prints them when nothing else says why)


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(settings.airflow_home()),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_dir()),
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "DO_NOT_TRACK": "1",
            "GX_ANALYTICS_ENABLED": "False",
            "CALLOPS_HOME": str(settings.home()),
            "CALLOPS_CONFIG": str(settings.config_path()),
            "CALLOPS_PROJECT_DIR": str(settings.project_dir()),
        }
    )
    return env


def _airflow(
    *args: str,
    log: Path | None = None,
    extra_env: dict[str, str] | None = None,
    module: str = "airflow",
    pass_fds: tuple[int, ...] = (),
    tail: collections.deque | None = None,
) -> subprocess.CompletedProcess:
    """`airflow <args>` in a child process (``module``: callops.dag_test for `callops run`'s DAG run).

    With a ``log``, the child's output is appended to it through this process, and its last lines also
    go to ``tail``: on a full disk the log stops growing (its last line says so) and ``tail`` still
    has how the run ended."""
    command = [sys.executable, "-m", module, *args]
    env = {**environment(), **(extra_env or {})}
    if log is None:
        return subprocess.run(command, env=env, capture_output=True, text=True, pass_fds=pass_fds)
    tail = collections.deque(maxlen=TAIL_LINES) if tail is None else tail
    try:
        handle = log.open("ab", buffering=0)
    except OSError as error:
        handle = None
        tail.append(f"callops: the log {log} cannot be written: {error}\n")
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=pass_fds
    ) as child:
        for line in child.stdout:
            tail.append(line.decode("utf-8", errors="replace"))
            if handle is not None:
                try:
                    handle.write(line)
                except OSError as error:
                    tail.append(f"callops: the log {log} stopped here: {error}\n")
                    with contextlib.suppress(OSError):
                        handle.close()
                    handle = None
        returncode = child.wait()
    if handle is not None:
        with contextlib.suppress(OSError):
            handle.close()
    return subprocess.CompletedProcess(command, returncode)


# What setting up the metadata DB (a new CALLOPS_HOME, or a new Airflow version) takes on a fresh clone:
# `airflow db migrate` and the writer pool, about 10 s on a warm machine, up to 30 s the first time.
SETUP_SECONDS = 30


def _migrated_marker() -> Path:
    return settings.airflow_home() / f".callops-migrated-{version('apache-airflow')}"


def metadata_db_ready() -> bool:
    """Whether :func:`ensure_metadata_db` has nothing to do (it ran for this Airflow version)."""
    return _migrated_marker().exists()


def ensure_metadata_db() -> None:
    """Migrate the SQLite metadata DB once per Airflow version, and create the writer pool."""
    home = settings.airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    marker = _migrated_marker()
    if marker.exists():
        return
    for args in (("db", "migrate"), ("pools", "set", WRITER_POOL, "1", "callops: one writer of the build warehouse")):
        done = _airflow(*args)
        if done.returncode != 0:
            output = f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
            doing = f"preparing Airflow's metadata database (airflow {args[0]})"
            if full := failures.disk_full(RuntimeError(output), doing, home):
                raise full
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{output}")
    marker.touch()


def run_pipeline(
    start: str,
    end: str,
    run_id: str,
    log: Path,
    failure_fd: int | None = None,
    tail: collections.deque | None = None,
) -> int:
    """One DAG run of callops_pipeline for delivery days [start, end]; returns the exit code.

    ``failure_fd``: the write end of callops.failures.Channel, where the steps report their failures;
    ``tail``: gets the last lines of the run's Airflow output."""
    ensure_metadata_db()
    conf = {"start": start, "end": end, "callops_run_id": run_id}
    # every task runs in this one process: they may prepare the next ones (callops.tasks._warm_up)
    one_process = {ONE_PROCESS_ENV: "1"}
    if failure_fd is not None:
        one_process[FAILURE_FD_ENV] = str(failure_fd)
    # Airflow's CLI with the in-process execution API built for its one client (callops.dag_test).
    # The DAG is parsed from its own file; dags test then syncs the whole bundle to the metadata DB.
    dag_file = settings.dags_dir() / f"{DAG_ID}.py"
    return _airflow(
        "dags", "test", DAG_ID, "-c", json.dumps(conf), "--bundle-name", DAGS_BUNDLE, "--dagfile-path", str(dag_file),
        log=log, extra_env=one_process, module="callops.dag_test",
        pass_fds=() if failure_fd is None else (failure_fd,), tail=tail,
    ).returncode


# --- `callops airflow` (make airflow): the scheduled DAGs, served -----------------------------------

ADMIN_USER = "admin"
ADMIN_PASSWORD_ENV = "CALLOPS_AIRFLOW_ADMIN_PASSWORD"  # as in docker-compose.yml
PORT_ENVS = ("AIRFLOW_PORT", "CALLOPS_AIRFLOW_PORT")
DEFAULT_PORT = 8080


def passwords_path() -> Path:
    """The SimpleAuthManager password file (the path docker-compose.yml uses under CALLOPS_HOME)."""
    return settings.home() / "secrets" / "airflow_passwords.json"


def admin_password() -> str:
    """The login's password: CALLOPS_AIRFLOW_ADMIN_PASSWORD if set, else the one generated on the
    first `callops airflow` and kept in the password file (mode 0600)."""
    import secrets

    path = passwords_path()
    wanted = os.environ.get(ADMIN_PASSWORD_ENV, "").strip()
    if not wanted:
        try:
            wanted = json.loads(path.read_text()).get(ADMIN_USER, "")
        except (OSError, ValueError, AttributeError):
            wanted = ""
    wanted = wanted or secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps({ADMIN_USER: wanted}))
    return wanted


def port() -> int:
    for name in PORT_ENVS:
        if os.environ.get(name):
            return int(os.environ[name])
    return DEFAULT_PORT


def serve_environment(port: int) -> dict[str, str]:
    """environment() plus what the served stack needs: the port everywhere it appears (the UI's links,
    the workers' execution API), the login, DAGs unpaused on creation (deliveries load without anyone
    clicking), the LocalExecutor."""
    url = f"http://127.0.0.1:{port}"
    env = environment()
    env.update(
        {
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_path()),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # standalone starts its components as `airflow <component>`: this interpreter's airflow
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    return env


def port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def serving_holder(port: int) -> str:
    return f"Airflow (make airflow) serving http://127.0.0.1:{port}"


def serve(port: int, announce=print) -> int:
    """Run `airflow standalone` (api-server, scheduler, dag-processor, triggerer) on 127.0.0.1:port over
    this CALLOPS_HOME until interrupted, holding the run lock: `callops run` is refused meanwhile, and
    this is refused while a `callops run` is going. Returns the exit code."""
    import signal

    from callops import warehouse

    with warehouse.file_lock(settings.run_lock_path(), "callops airflow", wait_seconds=0, holder=serving_holder(port)):
        if not port_is_free(port):
            announce(
                f"callops airflow: 127.0.0.1:{port} is in use; choose another port (make airflow AIRFLOW_PORT=...)"
            )
            return 2
        ensure_metadata_db()
        password = admin_password()
        env = serve_environment(port)
        announce(
            f"callops airflow: Airflow UI and REST API on http://127.0.0.1:{port} (CALLOPS_HOME={settings.home()})"
        )
        announce(
            f"  login: {ADMIN_USER} / {password}   (kept in {passwords_path()}; set {ADMIN_PASSWORD_ENV} to choose it)"
        )
        announce(f"  deliveries: drop them into {settings.landing_dir()}/<feed>/<tenant>/<YYYY-MM-DD>/")
        announce(f"  alerts: {settings.alerts_dir() / 'alerts.jsonl'}; Ctrl-C stops Airflow")
        # Its own session: Ctrl-C reaches this process only, which asks standalone once to stop (it
        # stops its components on SIGINT; a second one would cut that short). A second Ctrl-C kills it.
        child = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            env=env,
            start_new_session=True,
            # a shell's background job starts with SIGINT ignored; standalone needs it to stop cleanly
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        stopping = []

        def forward(_signum, _frame):
            if stopping:
                os.killpg(child.pid, signal.SIGKILL)  # standalone and its components (one group)
            else:
                stopping.append(True)
                child.send_signal(signal.SIGINT)

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            return child.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
