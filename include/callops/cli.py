"""The `callops` command.

    callops run --start YYYY-MM-DD --end YYYY-MM-DD [--verbose]
                                                      run the pipeline through Airflow, print a summary
    callops airflow [--port P]                        serve the scheduled DAGs (Airflow's components, make airflow)
    callops sample --start D --end D                  write a sample delivery for the configured tenants
    callops simulate --tenants N --days D --start D   simulate deliveries in the real telephony formats
    callops kpis [--tenant T] [--start D] [--end D]   print the published daily KPIs
    callops rejects [--tenant T] [--date D]           list quarantined rows (D = delivery day)
    callops accept <file>                             let a held-back delivery into the marts
    callops rollback [--tenant T]                     serve the previous published version again
    callops rekey                                     rotate the pseudonymisation key deliberately
    callops wallboard [--serve [--port P] [--host H]] write the wallboard again from the published files; serve it
    callops serving grant --tenant T --login NAME     a PostgreSQL login that sees tenant T's rows only
    callops serving revoke --login NAME               remove such a login
    callops erlang --calls N --interval-s S --aht-s A --target-sl P --answer-within-s T
                   [--patience-s M] [--shrinkage R] [--max-occupancy O] [--json]
                                                      agents for one interval (Erlang C, or Erlang A with patience)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import json
import sys
import uuid

from callops import failures, private, progress, sample, settings
from callops.config import ConfigError, load_config

# A command imports the heavy parts it needs (DuckDB, dbt, Airflow, the simulator) when it runs: `callops
# erlang` or `--help` loads none of them. Those imports are downward all the same (pyproject, importlinter).


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


def _print(text: str = "") -> None:
    print(text, flush=True)


# Long work (`run`, `simulate`) says on stderr how far along it is, at most this often (callops.progress).
PROGRESS_EVERY_SECONDS = 10.0


# --- run ------------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from callops import airflow_runner, pipeline, report, warehouse

    if args.end < args.start:
        _print(f"callops run: --end {args.end} is before --start {args.start}")
        return 2
    try:
        load_config()
    except ConfigError as error:
        _print(f"callops run: {error}")
        return 2
    run_id = dt.datetime.now(dt.UTC).strftime("run_%Y%m%dT%H%M%SZ_") + uuid.uuid4().hex[:6]
    log = settings.runs_dir() / f"{run_id}.log"
    # The steps' failures come back through a pipe, and the Airflow output's end is kept in memory: on
    # a full disk neither the build warehouse nor the log can say why the run failed (callops.failures).
    channel = failures.Channel()
    tail: collections.deque[str] = collections.deque(maxlen=airflow_runner.TAIL_LINES)
    try:
        with warehouse.file_lock(settings.run_lock_path(), "callops run", wait_seconds=0):
            # a changed or missing pseudonymisation key: refused before Airflow starts or a file is opened
            if problem := pipeline.key_problem():
                _print(f"callops run: {problem}")
                return 2
            _print(f"callops run {run_id}: delivery days {args.start} to {args.end} (CALLOPS_HOME={settings.home()})")
            _print(f"  Airflow DAG callops_pipeline, log: {log}")
            log.parent.mkdir(parents=True, exist_ok=True)
            waiting = progress.STARTING
            if not airflow_runner.metadata_db_ready():  # said once here, not at every progress line
                _print(
                    f"  first run on this CALLOPS_HOME: Airflow sets up its metadata database "
                    f"(a one-off, up to about {airflow_runner.SETUP_SECONDS} s)"
                )
                waiting = None
            # the tasks write their progress there while Airflow runs them; a line every 10 s on stderr
            progress.run_dir(run_id).mkdir(parents=True, exist_ok=True)
            with progress.Watcher(
                progress.path_for(run_id), "callops run", sys.stderr, PROGRESS_EVERY_SECONDS, waiting=waiting
            ):
                returncode = airflow_runner.run_pipeline(
                    args.start.isoformat(), args.end.isoformat(), run_id, log, failure_fd=channel.fd, tail=tail
                )
            reported = channel.received()
            summary = report.run_summary(run_id)
    except warehouse.LockBusy as busy:
        if "make airflow" in str(busy):
            _print(
                "callops run: Airflow (make airflow) is serving this CALLOPS_HOME; trigger the DAG there "
                "(callops_pipeline or build_warehouse with start and end) "
                f"or stop it first ({busy})"
            )
        else:
            _print(f"callops run: another run is in progress ({busy}); try again when it has finished")
        return 3
    except Exception as error:
        if not failures.is_disk_full(error):
            raise
        # before the DAG run could start (the run's log folder, Airflow's metadata database)
        _print("callops run: the DAG run could not start")
        _print_failed({"airflow": str(failures.disk_full(error, "starting the run", settings.home()))})
        _print("\nresult: FAILED")
        return 1
    finally:
        channel.close()
    if not reported and returncode != 0:
        reported = _airflow_disk_full(tail)
    if summary is None:
        _print("callops run: the DAG run failed before recording anything in the build warehouse")
        if reported:
            _print_failed({step: failure.message for step, failure in reported.items()})
        else:
            _print("last lines of the Airflow log:")
            _print("".join(list(tail)[-30:]).rstrip())
        _print(f"\nresult: FAILED (Airflow log: {log})")
        return 1
    _print(summary.text if args.verbose else summary.brief)
    _keep_in_log(log, summary.text)
    ok = returncode == 0 and summary.status == "success"
    if not ok:
        # what the summary cannot show: failures the steps could not record (a full disk)
        unrecorded = {
            step: failure.message
            for step, failure in reported.items()
            if not failure.recorded and failure.message not in summary.text
        }
        if unrecorded:
            _print("\nfailures the build warehouse could not record:")
            _print_failed(unrecorded)
    _print(f"\nresult: {'success' if ok else 'FAILED'}" + ("" if ok else f" (Airflow log: {log})"))
    return 0 if ok else 1


def _keep_in_log(log, text: str) -> None:
    """The run's full summary at the end of its log, whichever one the console showed; on a full disk
    it is not written (the console has said why the run failed)."""
    with contextlib.suppress(OSError), log.open("a") as handle:
        handle.write(f"\ncallops run summary (the full detail; `callops run` prints a short one):{text}\n")


def _print_failed(failed: dict[str, str]) -> None:
    for step, message in failed.items():
        _print(f"  {step:<9} failed: {message}")


def _airflow_disk_full(tail) -> dict:
    """When no step reported why the run failed: a full disk Airflow itself ran into (its metadata
    database, its logs), as its last output lines say; else nothing."""
    if not failures.is_disk_full(RuntimeError("".join(tail))):
        return {}
    full = failures.DiskFull("running Airflow (its metadata database and logs)", settings.airflow_home())
    return {"airflow": failures.Reported(str(full))}


# --- airflow --------------------------------------------------------------------------------------


def cmd_airflow(args: argparse.Namespace) -> int:
    from callops import airflow_runner, warehouse

    try:
        load_config()
    except ConfigError as error:
        _print(f"callops airflow: {error}")
        return 2
    port = args.port or airflow_runner.port()
    try:
        return airflow_runner.serve(port, announce=_print)
    except warehouse.LockBusy as busy:
        _print(f"callops airflow: a `callops run` (or another Airflow) is using this CALLOPS_HOME ({busy}); "
               "start Airflow when it has finished")
        return 3


# --- sample ---------------------------------------------------------------------------------------


def cmd_sample(args: argparse.Namespace) -> int:
    config = load_config()
    written = sample.write_sample(
        config, args.start, args.end, calls_per_day=args.calls_per_day, seed=args.seed, landing=settings.landing_dir()
    )
    for path, rows in written:
        _print(f"  wrote {rows:6d} rows  {path.relative_to(settings.home())}")
    _print(f"sample: {len(written)} file(s) under {settings.landing_dir()}")
    return 0


# --- simulate -------------------------------------------------------------------------------------


def _clock(text: str) -> int:
    """Minutes after midnight of an ``HH:MM`` local time."""
    try:
        clock = dt.datetime.strptime(text, "%H:%M")
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a time of day (HH:MM)") from None
    return clock.hour * 60 + clock.minute


def cmd_simulate(args: argparse.Namespace) -> int:
    from callops.simulate.model import Surge
    from callops.simulate.run import options_problem, simulate

    if args.tenants < 1 or args.days < 1 or args.calls_per_day <= 0:
        _print("callops simulate: --tenants, --days and --calls-per-day must be positive")
        return 2
    try:
        config = load_config()
    except ConfigError as error:
        _print(f"callops simulate: {error}")
        return 2
    surge = None
    surge_options = (args.surge_start, args.surge_minutes, args.surge_factor)
    if args.surge_queue is None and any(option is not None for option in surge_options):
        _print("callops simulate: --surge-start, --surge-minutes and --surge-factor need --surge-queue")
        return 2
    if args.surge_queue is not None:
        if args.surge_start is None or args.surge_minutes is None:
            _print("callops simulate: --surge-queue needs --surge-start and --surge-minutes")
            return 2
        factor = 2.0 if args.surge_factor is None else args.surge_factor
        surge = Surge(args.surge_queue, args.surge_start, args.surge_minutes, factor)
    if problem := options_problem(args.intraday_minutes, args.overlap_minutes * 60, surge):
        _print(f"callops simulate: {problem}")
        return 2
    summary = simulate(
        config.tenants,
        tenants=args.tenants,
        days=args.days,
        start=args.start,
        calls_per_day=args.calls_per_day,
        seed=args.seed,
        landing=settings.landing_dir(),
        workers=args.workers,
        rotate_hour=args.rotate_hour,
        overlap_seconds=args.overlap_minutes * 60,
        write_feeds=not args.telephony_only,
        intraday_minutes=args.intraday_minutes,
        surge=surge,
        progress_every=PROGRESS_EVERY_SECONDS,
    )
    for tenant, fmt in zip(summary["tenants"], summary["formats"]):
        note = "" if config.tenant(tenant) else "  (not in callops.yml: `callops run` will refuse its files)"
        _print(f"  {tenant:16s} {fmt}{note}")
    _print(
        f"simulate: {summary['contacts']:,} contacts in {summary['seconds']:.1f} s "
        f"({summary['calls_per_second']:,.0f} calls/s) under {settings.landing_dir()}"
    )
    return 0


# --- kpis / rejects -------------------------------------------------------------------------------


def cmd_kpis(args: argparse.Namespace) -> int:
    from callops import report

    text = report.published_kpis(args.tenant, args.start, args.end)
    if text is None:
        _print(f"no published marts yet at {settings.published_db_path()} (run `callops run` first)")
        return 1
    _print(text)
    return 0


def cmd_rejects(args: argparse.Namespace) -> int:
    from callops import report

    _print(report.rejects(args.tenant, args.date))
    return 0


def cmd_accept(args: argparse.Namespace) -> int:
    from callops import pipeline, warehouse

    if not settings.build_db_path().exists():
        _print("callops accept: no build warehouse yet: nothing was loaded")
        return 1
    try:
        _print(pipeline.accept_delivery(args.file))
    except pipeline.DataProblem as problem:
        _print(f"callops accept: {problem}")
        return 1
    except warehouse.LockBusy as busy:
        _print(f"callops accept: the warehouse is busy ({busy}); try again when the run has finished")
        return 3
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from callops import publish, wallboard, warehouse

    board_failed = None
    try:
        with warehouse.writer_lock(wait_seconds=args.wait):
            done = publish.rollback(tenant=args.tenant)
            try:  # the wallboard shows what is served now
                wallboard.regenerate()
            except wallboard.WallboardError as error:
                board_failed = str(error)
    except publish.PublishError as error:
        _print(f"callops rollback: {error}")
        return 1
    except warehouse.LockBusy as busy:
        _print(f"callops rollback: a run is publishing ({busy}); try again when it has finished")
        return 3
    if args.tenant:
        _print(f"callops rollback: tenant {args.tenant}'s file {done['path']} now serves {done['served']}")
        _print(f"  and {done['center']} serves that version's rows of {args.tenant} (the other tenants' are unchanged)")
        _print(
            f"  the versions replaced are kept as {done['set_aside']} and {done['center_set_aside']} under versions/"
        )
    else:
        _print(f"callops rollback: {done['path']} now serves {done['served']}")
        for tenant, served in done["tenants"].items():
            _print(f"  tenant {tenant}: {served}")
        _print(f"  the version it replaced is kept as published/versions/{done['set_aside']}")
    if board_failed:
        _print(f"  the wallboard was not made again: {board_failed} (`callops wallboard` tries again)")
    else:
        _print("  the wallboard shows the version now served")
    _print("  the next successful `callops run` publishes the build warehouse's marts again")
    return 0


def cmd_rekey(args: argparse.Namespace) -> int:
    from callops import rekey, warehouse

    try:
        with warehouse.file_lock(settings.run_lock_path(), "callops rekey", wait_seconds=0):
            done = rekey.rekey(announce=_print)
    except ConfigError as error:
        _print(f"callops rekey: {error}")
        return 2
    except rekey.RekeyError as error:
        _print(f"callops rekey: {error}")
        return 1
    except warehouse.LockBusy as busy:
        _print(f"callops rekey: a run or Airflow is using this CALLOPS_HOME ({busy}); try again when it has finished")
        return 3
    _print(f"callops rekey: {done}")
    return 0


# --- wallboard ------------------------------------------------------------------------------------


def cmd_wallboard(args: argparse.Namespace) -> int:
    from callops import wallboard

    try:
        if not args.serve or not wallboard.served_dir().exists():
            done = wallboard.regenerate()
            _print(f"callops wallboard: {done['path']} ({len(done['pages'])} pages, {done['seconds']:.2f} s)")
            _print(f"  open {done['path']}/index.html (the center), <tenant_id>/index.html (each project)")
        if not args.serve:
            return 0
        server = wallboard.server(args.host, args.port)
    except wallboard.WallboardError as error:
        _print(f"callops wallboard: {error}")
        return 1
    except OSError as error:
        _print(f"callops wallboard: cannot serve on {args.host}:{args.port}: {error.strerror or error}")
        return 1
    host, port = server.server_address[:2]
    _print(f"callops wallboard: serving {wallboard.served_dir()} on http://{host}:{port}/ (Ctrl-C stops it)")
    _print(f"  pages reload within {wallboard.POLL_SECONDS} s of a publish")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


# --- serving --------------------------------------------------------------------------------------


def cmd_serving_grant(args: argparse.Namespace) -> int:
    from callops import serving

    try:
        url = serving.grant(args.tenant, args.login)
    except serving.ServingError as error:
        _print(f"callops serving grant: {error}")
        return 1
    _print(f"callops serving grant: login {args.login} sees tenant {args.tenant}'s rows of schema marts; connect with")
    _print(f"  {url}")
    _print("  (the password is shown once: `callops serving grant` again makes a new one)")
    return 0


def cmd_serving_revoke(args: argparse.Namespace) -> int:
    from callops import serving

    try:
        serving.revoke(args.login)
    except serving.ServingError as error:
        _print(f"callops serving revoke: {error}")
        return 1
    _print(f"callops serving revoke: login {args.login} removed")
    return 0


# --- erlang ---------------------------------------------------------------------------------------


def cmd_erlang(args: argparse.Namespace) -> int:
    from callops import staffing

    if args.calls < 0 or args.interval_s <= 0 or args.aht_s < 0 or args.answer_within_s < 0:
        _print("callops erlang: --calls, --aht-s and --answer-within-s must be >= 0 and --interval-s > 0")
        return 2
    if args.patience_s is not None and args.patience_s <= 0:
        _print("callops erlang: --patience-s must be > 0")
        return 2
    if args.patience_s is not None and args.max_occupancy is not None:
        _print("callops erlang: --max-occupancy applies to Erlang C only (leave out --patience-s)")
        return 2
    try:
        if args.patience_s is None:
            agents = staffing.erlang_c_agents(
                args.calls, args.interval_s, args.aht_s, args.target_sl, args.answer_within_s, args.max_occupancy
            )
            figures = staffing.erlang_c(agents, args.calls, args.interval_s, args.aht_s, args.answer_within_s)
        else:
            agents = staffing.erlang_a_agents(
                args.calls, args.interval_s, args.aht_s, args.patience_s, args.target_sl, args.answer_within_s
            )
            figures = staffing.erlang_a(
                agents, args.calls, args.interval_s, args.aht_s, args.patience_s, args.answer_within_s
            )
        scheduled = None if args.shrinkage is None else staffing.scheduled_agents(agents, args.shrinkage)
    except ValueError as error:
        _print(f"callops erlang: {error}")
        return 2
    result: dict[str, int | float] = {"agents": int(agents)}
    for key in ("service_level_rate", "asa_seconds", "occupancy_rate", "wait_probability", "abandon_probability"):
        if key in figures:
            # No work (0 calls) needs no agents, and nobody waits.
            value = float(figures[key]) if agents > 0 else 1.0 if key == "service_level_rate" else 0.0
            result[key] = value
    if scheduled is not None:
        result["scheduled_agents"] = int(scheduled)
    if args.json:
        _print(json.dumps(result))
        return 0
    model = "Erlang C" if args.patience_s is None else f"Erlang A (mean patience {args.patience_s:g} s)"
    load = args.calls * args.aht_s / args.interval_s
    _print(f"{model}: {args.calls:g} calls in {args.interval_s:g} s at AHT {args.aht_s:g} s = {load:.2f} Erlangs")
    for key, value in result.items():
        _print(f"  {key:20s} {value:.6g}" if isinstance(value, float) else f"  {key:20s} {value}")
    return 0


DAY = "YYYY-MM-DD"  # how every date option is written
SEED_HELP = "random seed: the same seed writes the same files"
TENANT_HELP = "only this tenant (its id in callops.yml; default: every tenant)"


class _HelpFormatter(argparse.HelpFormatter):
    """Each option's default after its help, unless it has none (None, a flag, a required option) or
    its help says it already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        none = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if action.required or none or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


def _command(commands, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose one-line summary is also the description `callops <command> --help` prints."""
    return commands.add_parser(name, help=summary, description=summary, formatter_class=_HelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callops",
        description="contact-center operations warehouse: loads the landing zone's deliveries, builds and checks "
        "the marts, publishes them",
        epilog="`callops <command> --help` describes a command's options. Files live under CALLOPS_HOME "
        "(default: data/ in the project); tenants are configured in callops.yml (CALLOPS_CONFIG).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="<command>")

    run = _command(commands, "run", "load, build, check and publish a range of delivery days through Airflow")
    run.add_argument("--start", type=_day, required=True, metavar=DAY, help="first delivery day")
    run.add_argument(
        "--end", type=_day, required=True, metavar=DAY, help="last delivery day (the same as --start: one day)"
    )
    run.add_argument(
        "--verbose",
        action="store_true",
        help="print the full detail: per delivery day, tenant and feed, each step, every file's notes "
        "(the run log always keeps it)",
    )
    run.set_defaults(handler=cmd_run)

    airflow = _command(
        commands, "airflow", "serve the scheduled DAGs over this CALLOPS_HOME: Airflow's API server, scheduler, "
        "DAG processor and triggerer on 127.0.0.1 until Ctrl-C (make airflow)",
    )
    airflow.add_argument(
        "--port", type=int, default=None, metavar="PORT",
        help="port of the UI and API (default: $AIRFLOW_PORT, else $CALLOPS_AIRFLOW_PORT, else 8080)",
    )
    airflow.set_defaults(handler=cmd_airflow)

    sample = _command(
        commands, "sample", "write a small sample contact CSV per configured tenant and day into the landing zone"
    )
    sample.add_argument("--start", type=_day, required=True, metavar=DAY, help="first day")
    sample.add_argument("--end", type=_day, required=True, metavar=DAY, help="last day")
    sample.add_argument("--calls-per-day", type=int, default=400, metavar="N", help="contacts per tenant and day")
    sample.add_argument("--seed", type=int, default=7, metavar="N", help=SEED_HELP)
    sample.set_defaults(handler=cmd_sample)

    simulate = _command(
        commands, "simulate", "simulate tenants' contact centers and write their deliveries in the real formats "
        "(telephony, and QA, HR and marketing feeds) into the landing zone",
    )
    simulate.add_argument("--tenants", type=int, default=3, metavar="N", help="tenants: the first N of callops.yml")
    simulate.add_argument("--days", type=int, default=14, metavar="N", help="days to simulate, from --start")
    simulate.add_argument("--start", type=_day, required=True, metavar=DAY, help="first day")
    simulate.add_argument(
        "--calls-per-day", type=float, default=1500, metavar="N", help="mean calls per tenant and day over a week"
    )
    simulate.add_argument("--seed", type=int, default=7, metavar="N", help=SEED_HELP)
    simulate.add_argument(
        "--workers", type=int, default=None, metavar="N",
        help="processes to simulate with (default: the CPU count, at most 8)",
    )
    simulate.add_argument(
        "--rotate-hour", type=int, default=0, metavar="H",
        help="local hour (0-23) at which Asterisk's queue_log is rotated",
    )
    simulate.add_argument(
        "--overlap-minutes", type=int, default=0, metavar="M",
        help="minutes of the previous queue_log file each file repeats (an exporter's overlap)",
    )
    simulate.add_argument(
        "--telephony-only", action="store_true", help="write the telephony only: no QA, HR or marketing feeds"
    )
    simulate.add_argument(
        "--intraday-minutes", type=int, default=None, metavar="M",
        help="write every telephony file as M-minute chunks named <file name>-YYYYMMDD-HHMM (local start), each "
        "holding what the source wrote in that window (a contact once it ended); a window with nothing in it "
        "has no chunk file",
    )
    simulate.add_argument(
        "--surge-queue", default=None, metavar="Q",
        help="on the last simulated day only (the days before are the normal baseline an alert compares with), "
        "multiply queue Q's arrivals (general, vip or billing) for a while",
    )
    simulate.add_argument("--surge-start", type=_clock, default=None, metavar="HH:MM", help="the surge's local start")
    simulate.add_argument(
        "--surge-minutes", type=int, default=None, metavar="N", help="the surge's length; it must end by midnight"
    )
    simulate.add_argument(
        "--surge-factor", type=float, default=None, metavar="F",
        help="arrivals multiplied by F during the surge (above 0; default 2)",
    )
    simulate.set_defaults(handler=cmd_simulate)

    kpis = _command(commands, "kpis", "print the published daily KPIs (marts.rpt_daily_kpis), per tenant and day")
    kpis.add_argument("--tenant", metavar="TENANT_ID", help=TENANT_HELP)
    kpis.add_argument(
        "--start", type=_day, metavar=DAY, help="first day, in the tenant's time zone (default: the first)"
    )
    kpis.add_argument("--end", type=_day, metavar=DAY, help="last day, in the tenant's time zone (default: the last)")
    kpis.set_defaults(handler=cmd_kpis)

    rejects = _command(commands, "rejects", "list the rows the load quarantined, with their file, line and reason")
    rejects.add_argument("--tenant", metavar="TENANT_ID", help=TENANT_HELP)
    rejects.add_argument(
        "--date", type=_day, metavar=DAY, help="only the files of this delivery day (default: every day)"
    )
    rejects.set_defaults(handler=cmd_rejects)

    accept = _command(
        commands, "accept", "let a delivery the delivery gate held back (too many rejected rows) into the marts at "
        "the next run",
    )
    accept.add_argument(
        "file", metavar="FILE",
        help="the held file: its path, its name from landing/ on (as the run summary names it), or its bare "
        "name if no other delivery has it",
    )
    accept.set_defaults(handler=cmd_accept)

    rollback = _command(
        commands, "rollback", "serve the previous published version of the marts again (every tenant's file too)"
    )
    rollback.add_argument(
        "--tenant", metavar="TENANT_ID", default=None,
        help="roll back this tenant alone: its file, and its rows in the center file",
    )
    rollback.add_argument(
        "--wait", type=float, default=60, metavar="SECONDS", help="how long to wait for a publish in progress"
    )
    rollback.set_defaults(handler=cmd_rollback)

    rekey = _command(
        commands, "rekey",
        "rotate the pseudonymisation key (CALLOPS_PSEUDONYM_KEY or secrets/pseudonym.key): re-pseudonymise the raw "
        "layer with it, rebuild in full, republish, and drop the published versions of the old key",
    )
    rekey.set_defaults(handler=cmd_rekey)

    wallboard = _command(
        commands, "wallboard", "write the wallboard (published/wallboard/: the center's page and one per tenant) "
        "again from the published files, and print where it is; --serve: serve it over http",
    )
    wallboard.add_argument(
        "--serve", action="store_true",
        help="serve published/wallboard/ over http until Ctrl-C (written first if there is none); its pages "
        "reload after each publish",
    )
    wallboard.add_argument(
        "--port", type=int, default=8090, metavar="PORT", help="with --serve: the port (0: a free one)"
    )
    wallboard.add_argument("--host", default="127.0.0.1", metavar="HOST", help="with --serve: the address to bind")
    wallboard.set_defaults(handler=cmd_wallboard)

    serving = _command(
        commands, "serving",
        "logins of the PostgreSQL server CALLOPS_SERVING_URL names, which every publish also serves the marts from",
    )
    actions = serving.add_subparsers(
        dest="action", required=True, metavar="<action>", help="grant (make a login) or revoke (remove one)"
    )
    grant = _command(
        actions, "grant",
        "make a login that sees one tenant's rows only (or give it a new password); prints its connection string",
    )
    grant.add_argument("--tenant", required=True, metavar="TENANT_ID", help="the tenant whose rows the login sees")
    grant.add_argument("--login", required=True, metavar="NAME", help="the login's name: lowercase letters, digits, _")
    grant.set_defaults(handler=cmd_serving_grant)
    revoke = _command(actions, "revoke", "remove a login `callops serving grant` made")
    revoke.add_argument("--login", required=True, metavar="NAME", help="the login to remove")
    revoke.set_defaults(handler=cmd_serving_revoke)

    erlang = _command(
        commands, "erlang", "agents one interval needs for a service level (Erlang C; Erlang A with --patience-s)"
    )
    erlang.add_argument("--calls", type=float, required=True, metavar="N", help="calls offered in the interval")
    erlang.add_argument("--interval-s", type=float, required=True, metavar="SECONDS", help="interval length, e.g. 1800")
    erlang.add_argument("--aht-s", type=float, required=True, metavar="SECONDS", help="average handle time")
    erlang.add_argument(
        "--target-sl", type=float, required=True, metavar="RATE", help="service level target, 0-1, e.g. 0.8"
    )
    erlang.add_argument(
        "--answer-within-s", type=float, required=True, metavar="SECONDS",
        help="the service level's threshold T: answered within T seconds, e.g. 20",
    )
    erlang.add_argument(
        "--patience-s", type=float, metavar="SECONDS", help="mean caller patience: Erlang A (abandons) instead of C"
    )
    erlang.add_argument("--shrinkage", type=float, metavar="RATE", help="shrinkage 0-1: also print scheduled_agents")
    erlang.add_argument(
        "--max-occupancy", type=float, metavar="RATE", help="Erlang C only: occupancy cap 0-1, e.g. 0.85"
    )
    erlang.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    erlang.set_defaults(handler=cmd_erlang)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # owner-only whatever the caller's umask: the warehouse, secrets, Airflow's metadata, logs ...
    private.restrict_umask()
    private.harden()
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
