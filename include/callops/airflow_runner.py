"""Embedded Airflow: SQLite metadata under CALLOPS_HOME/airflow.

`callops run` triggers ``callops_pipeline`` as one DAG run with
``airflow dags test`` in a child process (the whole run in-process, with the
real scheduler logic, task states and XComs, recorded in the metadata DB),
through callops.dag_test (Airflow's CLI, made cheaper to start): no servers.
`callops airflow` (make airflow) serves the scheduled DAGs: Airflow's API server, scheduler, DAG
processor and triggerer, started and stopped in order (:func:`serve`).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
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
            # DAGs unpaused when first seen, whichever command sees them first: `callops run` registers every
            # DAG, and `callops airflow` (make airflow) then loads deliveries without anyone clicking
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
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
    sink = _AppendLog(log, lambda what, error: tail.append(f"callops: the log {log} {what}: {error}\n"))
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=pass_fds
    ) as child:
        for line in child.stdout:
            tail.append(line.decode("utf-8", errors="replace"))
            sink.write(line)
        returncode = child.wait()
    sink.close()
    return subprocess.CompletedProcess(command, returncode)


class _AppendLog:
    """A log a child's output is appended to, line by line. It stops at the first error (a full disk),
    which goes to ``said(what, error)`` ("cannot be written" on opening, "stopped here" later); the
    child's output still goes on. With ``max_bytes``, the log moves to <name>.1 once it is that large
    and a new one starts."""

    def __init__(self, path: Path, said, max_bytes: int | None = None) -> None:
        self.path, self.said, self.max_bytes = path, said, max_bytes
        self.handle = self._open()

    def _open(self):
        try:
            return self.path.open("ab", buffering=0)
        except OSError as error:
            self.said("cannot be written", error)
            return None

    def write(self, raw: bytes) -> None:
        if self.handle is None:
            return
        try:
            self.handle.write(raw)
            if self.max_bytes is not None and self.handle.tell() > self.max_bytes:
                self.handle.close()
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
                self.handle = self._open()
        except OSError as error:
            self.said("stopped here", error)
            self.close()

    def close(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.handle.close()
            self.handle = None


# What setting up the metadata DB (a new CALLOPS_HOME, or a new Airflow version) takes on a fresh clone:
# `airflow db migrate` and the writer pool, about 10 s on a warm machine, up to 30 s the first time.
SETUP_SECONDS = 30


def migrated_marker() -> Path:
    return settings.airflow_home() / f".callops-migrated-{version('apache-airflow')}"


def metadata_db_ready() -> bool:
    """Whether :func:`ensure_metadata_db` has nothing to do (it ran for this Airflow version)."""
    return migrated_marker().exists()


def ensure_metadata_db() -> None:
    """Migrate the SQLite metadata DB once per Airflow version, and create the writer pool."""
    home = settings.airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    marker = migrated_marker()
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


def unpaused_marker() -> Path:
    return settings.airflow_home() / ".callops-unpaused-dags-created-paused"


def unpause_dags_created_paused() -> list[str]:
    """Once per home: unpause the DAGs an earlier release created paused and nothing has run since.

    Up to this release only `callops airflow` created DAGs unpaused; on a home where `callops run` (its
    `airflow dags test`) registered them first, they stayed paused, so `make airflow` never loaded a
    delivery. A DAG paused whose only runs are `dags test` ones (or none) was never served: unpaused
    here, on the first start of this release. A marker keeps a later, deliberate pause as it is.
    Returns the DAG ids unpaused."""
    marker = unpaused_marker()
    if marker.exists():
        return []
    database = settings.airflow_home() / "airflow.db"
    paused: list[str] = []
    if database.exists():
        with contextlib.closing(sqlite3.connect(database)) as con:
            paused = [
                dag_id
                for (dag_id,) in con.execute(
                    "select dag_id from dag where is_paused and dag_id not in "
                    "(select dag_id from dag_run where triggered_by is distinct from 'TEST') order by dag_id"
                )
            ]
    if paused:
        pattern = "^(" + "|".join(re.escape(dag_id) for dag_id in paused) + ")$"
        done = _airflow("dags", "unpause", "--treat-dag-id-as-regex", "--yes", pattern)
        if done.returncode != 0:
            raise RuntimeError(f"airflow dags unpause failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    marker.touch()
    return paused


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
    the workers' execution API), the login, the LocalExecutor (DAGs are unpaused on creation: environment())."""
    url = f"http://127.0.0.1:{port}"
    env = environment()
    env.update(
        {
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_path()),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # `airflow` on the PATH of the components and their tasks is this interpreter's
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


# The components `callops airflow` runs, each `airflow <component> <args>`: the API server first, and the
# others only once it answers, so that no task starts before the execution API can take its state.
API_SERVER = "api-server"
AFTER_API = (
    ("scheduler", ("--skip-serve-logs",)),  # LocalExecutor: task logs are local files the API server reads
    ("dag-processor", ()),
    ("triggerer", ("--skip-serve-logs",)),
)
API_START_SECONDS = 300  # the API server's first start on a busy 2-core machine takes about a minute
STOP_SECONDS = 60  # after Ctrl-C, running tasks get this long to finish before their processes are killed
HEALTH_PATHS = ("/api/v2/monitor/health", "/execution/health")  # the UI's and REST API's, and the tasks'
COMPONENT_LOG_MAX_BYTES = 50 * 1024 * 1024  # then <component>.log moves to <component>.log.1
# An Airflow log line: `2026-03-02T08:26:31.020721Z [warning  ] text [logger] key=value ...`
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* \[(?P<level>[a-z]+)\s*\] (?P<text>.*)$")
CONSOLE_LEVELS = ("warning", "error", "critical")
TASK_FINISHED = re.compile(
    r"TaskInstance Finished: dag_id=(?P<dag_id>[^,]+), task_id=(?P<task_id>[^,]+), run_id=(?P<run_id>.+?), "
    r"map_index=(?P<map_index>-?\d+),.* run_duration=(?P<seconds>[^,]+), state=(?P<state>[a-z_]+),"
    r".* try_number=(?P<try_number>\d+), max_tries=(?P<max_tries>\d+),"
)
RUN_FAILED = re.compile(r"Marking run <DagRun (?P<dag_id>\S+) @ (?P<at>.+?), state:\w+.*> failed")
TASK_OUTCOMES = ("success", "failed", "up_for_retry", "upstream_failed", "skipped")


def component_logs_dir() -> Path:
    """Where `callops airflow` keeps each component's full output (<component>.log)."""
    return settings.airflow_home() / "logs"


def console_line(component: str, line: str) -> str | None:
    """What the console shows of one line of a component's output: a task's outcome, a DAG run that
    failed, a warning or an error (Python's warnings, for developers, stay in the log); else None."""
    parsed = LOG_LINE.match(line)
    if parsed is None:
        return line if re.match(r"(ERROR|CRITICAL|WARNING)\b", line) else None
    level, text = parsed.group("level"), parsed.group("text")
    if finished := TASK_FINISHED.search(text):
        state = finished.group("state")
        if state not in TASK_OUTCOMES:
            return None  # deferred, up_for_reschedule ...: still going
        task = f"{finished.group('dag_id')}.{finished.group('task_id')}"
        if finished.group("map_index") != "-1":
            task += f"[{finished.group('map_index')}]"
        outcome = state.replace("_", " ")
        if state == "up_for_retry":
            tries = int(finished.group("max_tries")) + 1
            outcome = f"failed, will retry (try {finished.group('try_number')} of {tries})"
        elif state in ("success", "failed") and finished.group("seconds") not in ("None", ""):
            outcome += f" in {float(finished.group('seconds')):.0f} s"
        return f"task {task} ({finished.group('run_id')}): {outcome}"
    if failed := RUN_FAILED.search(text):
        return f"DAG run {failed.group('dag_id')} ({failed.group('at').split(': ', 1)[-1]}): failed"
    if level not in CONSOLE_LEVELS or "[py.warnings]" in text:
        return None
    text = re.sub(r" loc=\S+", "", text)
    return f"{component} {level}: {text[:500]}"


class _Component:
    """One Airflow component in its own session: its output goes whole to <component>.log and, filtered
    (console_line), to the console; stopping it reaches every process it started, whatever their group."""

    def __init__(self, name: str, args: tuple[str, ...], env: dict[str, str], console) -> None:
        import threading

        self.name = name
        self.log_path = component_logs_dir() / f"{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.tail: collections.deque[str] = collections.deque(maxlen=20)
        self.console = console
        self.process = subprocess.Popen(
            [sys.executable, "-m", "airflow", name, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches callops only, which stops the components in order
        )
        self.reader = threading.Thread(target=self._pump, name=f"callops-{name}-output", daemon=True)
        self.reader.start()

    def _log_problem(self, what: str, error: OSError) -> None:
        if what == "cannot be written":
            self.console(f"callops airflow: {self.log_path} cannot be written ({error}); the {self.name}'s log is lost")
        else:
            self.console(f"callops airflow: {self.log_path} {what} ({error})")

    def _pump(self) -> None:
        sink = _AppendLog(self.log_path, self._log_problem, COMPONENT_LOG_MAX_BYTES)
        for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self.tail.append(line)
            sink.write(raw)
            if (shown := console_line(self.name, line)) is not None:
                self.console(f"{time.strftime('%H:%M:%S')} {shown}")
        sink.close()

    def running(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        """Ask the component to stop (SIGTERM to its own process: it stops what it started)."""
        import signal

        if self.running():
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    def leftovers(self) -> list[int]:
        """Every process still in the component's session (its own, its workers', its tasks')."""
        import psutil

        found = []
        for pid in psutil.pids():
            with contextlib.suppress(OSError):
                if os.getsid(pid) == self.process.pid:
                    found.append(pid)
        return found

    def kill(self) -> None:
        import signal

        for _ in range(10):
            pids = self.leftovers()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.reader.join(timeout=5)


def _api_answers(url: str) -> bool:
    import urllib.request

    for path in HEALTH_PATHS:
        try:
            with urllib.request.urlopen(url + path, timeout=2) as response:
                if response.status != 200:
                    return False
        except OSError:
            return False
    return True


def _wait(components: list[_Component], seconds: float, until) -> bool:
    """Wait until every component has exited, ``seconds`` have passed or ``until`` is set."""
    deadline = time.monotonic() + seconds
    while any(c.running() for c in components) and time.monotonic() < deadline and not until.is_set():
        time.sleep(0.2)
    return not any(c.running() for c in components)


@contextlib.contextmanager
def _terminal_to_own_group():
    """Started by another program in a terminal's foreground (`make airflow`), take the terminal for a
    process group of our own: Ctrl-C then reaches this process alone, which stops Airflow in order and
    exits 0, and make, never interrupted itself, exits 0 too (GNU make reports any Ctrl-C it receives as
    "Interrupt" and dies of it, whatever its command does). The terminal goes back to that group on exit.
    Yields the parent's pid when it did (serve stops if that parent goes away), else None."""
    import signal

    try:
        group, handed = os.getpgrp(), os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp() != os.getpid()
    except OSError:
        handed = False
    if not handed:
        yield None
        return
    parent = os.getppid()
    # a group in the background that sets the terminal's foreground gets SIGTTOU: ignored meanwhile
    quiet = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.setpgid(0, 0)
        os.tcsetpgrp(0, os.getpgrp())
    except OSError:
        with contextlib.suppress(OSError):
            os.setpgid(0, group)  # back where the terminal's Ctrl-C arrives
        signal.signal(signal.SIGTTOU, quiet)
        yield None
        return
    # Ctrl-Z now stops this process alone, and make would wait on it forever with the terminal held
    stay = signal.signal(signal.SIGTSTP, signal.SIG_IGN)
    try:
        yield parent
    finally:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(0, group)
        signal.signal(signal.SIGTSTP, stay)
        signal.signal(signal.SIGTTOU, quiet)


def serve(port: int, announce=print) -> int:
    """Serve the scheduled DAGs on 127.0.0.1:port over this CALLOPS_HOME until Ctrl-C (or SIGTERM), holding
    the run lock: `callops run` is refused meanwhile, and this is refused while a `callops run` is going.

    The API server starts first; the scheduler, DAG processor and triggerer only once it answers
    (HEALTH_PATHS), so no DAG is parsed, unpaused or run before tasks can report to it. Ctrl-C stops
    the scheduler, DAG processor and triggerer (running tasks get STOP_SECONDS to finish), then the API
    server, then kills whatever they left; a second Ctrl-C kills at once. Returns 0 when stopped so, 1
    when a component failed. The console shows a banner, then task outcomes, warnings and errors; every
    component's whole output is in component_logs_dir()/<component>.log."""
    import signal
    import threading

    from callops import warehouse

    stop, force = threading.Event(), threading.Event()

    def on_signal(_signum, _frame):
        (force if stop.is_set() else stop).set()

    with warehouse.file_lock(settings.run_lock_path(), "callops airflow", wait_seconds=0, holder=serving_holder(port)):
        if not port_is_free(port):
            announce(
                f"callops airflow: 127.0.0.1:{port} is in use; choose another port (make airflow AIRFLOW_PORT=...)"
            )
            return 2
        stopping = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
        previous = {sig: signal.signal(sig, on_signal) for sig in stopping}
        try:
            with _terminal_to_own_group() as parent:
                return _serve(port, announce, stop, force, parent)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _serve(port: int, announce, stop, force, parent: int | None) -> int:
    import threading

    started = time.monotonic()
    url = f"http://127.0.0.1:{port}"
    lock = threading.Lock()

    def console(text: str) -> None:
        with lock:
            announce(text)

    announce(f"callops airflow: starting Airflow on {url} (CALLOPS_HOME={settings.home()})")
    if not metadata_db_ready():
        announce(f"  first start: creating Airflow's metadata database (one-off, up to about {SETUP_SECONDS} s)")
    try:
        ensure_metadata_db()
    except RuntimeError:
        if stop.is_set():  # Ctrl-C reached `airflow db migrate` too
            announce("callops airflow: stopped before Airflow started")
            return 0
        raise
    if unpaused := unpause_dags_created_paused():
        announce(f"  unpaused {len(unpaused)} DAG(s) an earlier release left paused: {', '.join(unpaused)}")
    password = admin_password()
    env = serve_environment(port)
    announce(
        f"  login: {ADMIN_USER} / {password}   (kept in {passwords_path()}; set {ADMIN_PASSWORD_ENV} to choose it)"
    )
    announce(f"  deliveries: drop them into {settings.landing_dir()}/<feed>/<tenant>/<YYYY-MM-DD>/")
    announce(f"  alerts: {settings.alerts_dir() / 'alerts.jsonl'}")
    announce(f"  Airflow's logs: {component_logs_dir()}/<component>.log (here: task outcomes, warnings, errors)")
    components: list[_Component] = []
    failed = None
    try:
        api = _Component(API_SERVER, ("--port", str(port), "--host", "127.0.0.1"), env, console)
        components.append(api)
        while not stop.is_set() and not _api_answers(url):
            if not api.running() or time.monotonic() - started > API_START_SECONDS:
                failed = api
                break
            stop.wait(0.5)
        if failed is None and not stop.is_set():
            components += [_Component(name, args, env, console) for name, args in AFTER_API]
            console(
                f"callops airflow: Airflow UI and REST API on {url}, up after {time.monotonic() - started:.0f} s; "
                "scheduling starts now. Ctrl-C stops Airflow"
            )
        while failed is None and not stop.is_set():
            failed = next((c for c in components if not c.running()), None)
            if parent is not None and os.getppid() != parent:
                stop.set()  # make went away (its terminal closed, or it was killed): stop too
            stop.wait(0.5)
        if failed is not None:
            why = "did not answer" if failed.running() else f"exited with code {failed.process.returncode}"
            console(f"callops airflow: the Airflow {failed.name} {why}; its last lines ({failed.log_path}):")
            for line in list(failed.tail)[-10:]:
                console(f"  {line[:300]}")
        else:
            console(
                f"callops airflow: stopping Airflow (running tasks get up to {STOP_SECONDS} s to finish; "
                "Ctrl-C again stops at once)"
            )
        # the API server last: the tasks still running report their state through it
        others = components[1:]
        for component in others:
            component.terminate()
        _wait(others, STOP_SECONDS, force)
        api.terminate()
        _wait(components, 20, force)
    finally:
        for component in components:
            component.kill()
    if failed is not None:
        return 1
    console("callops airflow: stopped" + (" at once" if force.is_set() else ""))
    return 0
