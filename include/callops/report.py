"""Text reports for the CLI: a run's per-day summary, published KPIs, quarantined rows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb

from callops import settings, warehouse

KPI_COLUMNS = (
    "tenant_id",
    "kpi_date",
    "offered_count",
    "answered_count",
    "abandoned_count",
    "short_abandoned_count",
    "answered_within_sl_count",
    "answer_rate",
    "service_level_rate",
    "abandon_rate",
    "asa_seconds",
    "aht_seconds",
)


def format_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        if value is None:
            return "null"
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)

    text_rows = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in text_rows]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in text_rows)])


@dataclass
class RunSummary:
    status: str
    text: str  # the full detail: per delivery day, each step, every file's notes (`callops run --verbose`, the run log)
    steps: dict[str, str] = field(default_factory=dict)  # step -> its last recorded status
    brief: str = ""  # what `callops run` prints by default: at most about BRIEF_LINES lines


# The default summary of a run: a fixed set of lines, the latest complete day's KPIs of at most BRIEF_TENANTS
# tenants and at most BRIEF_PROBLEMS problems; what is left out is counted, and the full detail has it.
BRIEF_LINES = 25
BRIEF_TENANT_NAMES = 8
BRIEF_TENANTS = 5
BRIEF_PROBLEMS = 4


def run_summary(run_id: str) -> RunSummary | None:
    if not settings.build_db_path().exists():
        return None
    with warehouse.session(read_only=True) as con:
        return _run_summary(con, run_id)


def _run_summary(con: duckdb.DuckDBPyConnection, run_id: str) -> RunSummary | None:
    run = con.execute("select status, detail from ops.runs where run_id = ?", [run_id]).fetchone()
    if run is None:
        return None
    status, detail = run
    per_day = con.execute(
        """
        select delivery_date, tenant_id, feed, count(*) as files,
            count(*) filter (where action in ('loaded', 'replaced')) as loaded,
            count(*) filter (where action = 'held') as held,
            count(*) filter (where action = 'unchanged') as unchanged,
            count(*) filter (where action = 'failed') as failed,
            sum(rows_loaded) as rows_loaded, sum(rows_rejected) as rows_rejected,
            sum(rows_superseded) as rows_superseded, sum(rows_skipped) as rows_skipped
        from ops.run_files where run_id = ?
        group by all order by all
        """,
        [run_id],
    ).fetchall()
    lines = ["", "per delivery day:"]
    if per_day:
        columns = [
            "delivery_day", "tenant", "feed", "files", "loaded", "held", "unchanged", "failed", "rows", "rejected"
        ]
        # superseded and skipped records only when the run has some (each file's notes say which and why)
        shown = [(i, name) for i, name in ((10, "superseded"), (11, "skipped")) if any(row[i] for row in per_day)]
        lines.append(
            format_table(
                columns + [name for _, name in shown],
                [row[:10] + tuple(row[i] for i, _ in shown) for row in per_day],
            )
        )
    else:
        lines.append("  no deliveries found in the landing zone for this range")
    steps = con.execute(
        "select step, status, detail from ops.run_steps where run_id = ? order by finished_at", [run_id]
    ).fetchall()
    lines += ["", "steps:"]
    skipped: list[str] = []
    for step, step_status, step_json in steps:
        step_detail = json.loads(step_json)
        lines.append(f"  {step:<9} {step_status}{_step_note(step, step_detail)}")
        if step == "load" and isinstance(step_detail, dict):
            skipped += step_detail.get("landing_skipped", [])
    if skipped:  # below the landing root but not deliveries, each with its reason (callops.landing)
        lines += ["", "skipped in the landing zone (not deliveries, the run does not fail for them):"]
        lines += [f"  - {line}" for line in skipped]
    notes = con.execute(
        """
        select files.message from ops.run_files as files
        left join raw.manifest as manifest on files.file_id = manifest.file_id
        where files.run_id = ? and files.message is not null
            and (files.action <> 'unchanged' or manifest.gate_status = 'held')
        order by files.action in ('failed', 'held') desc, files.file_name
        """,
        [run_id],
    ).fetchall()
    problems = (json.loads(detail) or {}).get("problems", []) if detail else []
    if notes or problems:
        lines += ["", "notes and problems:"]
        lines += [f"  - {message}" for (message,) in notes]
        lines += [f"  - {p}" for p in problems if not any(p == m for (m,) in notes)]
    brief = _brief(con, run_id, [(step, step_status, json.loads(step_json)) for step, step_status, step_json in steps])
    return RunSummary(
        status=status or "failed", text="\n".join(lines), steps={row[0]: row[1] for row in steps}, brief=brief
    )


# --- the default summary --------------------------------------------------------------------------


def _brief(con: duckdb.DuckDBPyConnection, run_id: str, steps: list[tuple[str, str, object]]) -> str:
    """The run in a screen: tenants, days, files, rows, checks, what was published, the
    latest complete day's KPIs against target, and the problems. What every run has by the hundred
    (a later version of a contact superseding an earlier one, Amazon Connect's normal behaviour) is
    counted, not listed; the full detail (``RunSummary.text``) lists it."""
    start, end, run_status = con.execute(
        "select start_date, end_date, status from ops.runs where run_id = ?", [run_id]
    ).fetchone()
    (tenants, days, files, loaded, replaced, unchanged, held, failed, rows, rejected, superseded, skipped,
     noted) = con.execute(
        """
        select list(distinct tenant_id order by tenant_id) filter (where tenant_id is not null),
            count(distinct delivery_date), count(*),
            count(*) filter (where action in ('loaded', 'replaced')),
            count(*) filter (where action = 'replaced'),
            count(*) filter (where action = 'unchanged'),
            count(*) filter (where action = 'held'),
            count(*) filter (where action = 'failed'),
            coalesce(sum(rows_loaded), 0), coalesce(sum(rows_rejected), 0),
            coalesce(sum(rows_superseded), 0), coalesce(sum(rows_skipped), 0),
            count(*) filter (where action in ('loaded', 'replaced') and message is not null)
        from ops.run_files where run_id = ?
        """,
        [run_id],
    ).fetchone()
    tenants = tenants or []
    latest = {step: (status, detail if isinstance(detail, dict) else {}) for step, status, detail in steps}
    lines = [""]
    named = ", ".join(tenants[:BRIEF_TENANT_NAMES]) + (
        f" and {len(tenants) - BRIEF_TENANT_NAMES} more" if len(tenants) > BRIEF_TENANT_NAMES else ""
    )
    lines.append(f"tenants    {f'{len(tenants)}: {named}' if tenants else 'none: no deliveries in the landing zone'}")
    lines.append(f"days       {start} to {end}: {days} delivery day(s) with files")
    lines.append(
        f"files      {files:,}: {loaded:,} loaded"
        + (f" ({replaced:,} replacing an earlier version)" if replaced else "")
        + f", {unchanged:,} unchanged, {held:,} held back, {failed:,} failed"
    )
    counts = [f"{rows:,} loaded", f"{rejected:,} rejected" + (" (`callops rejects` lists them)" if rejected else "")]
    if superseded:
        counts.append(f"{superseded:,} superseded by a later record of the same contact")
    if skipped:
        counts.append(f"{skipped:,} skipped (not modelled)")
    lines.append(f"rows       {', '.join(counts)}")
    lines.append(f"checks     {_brief_checks(latest)}")
    published = latest.get("publish", ("", {}))
    if published[0] == "success":
        path, tables = published[1].get("path"), published[1].get("tables") or {}
        files, held = published[1].get("tenants") or {}, published[1].get("held_back") or []
        lines.append(
            f"published  {len(tables)} tables, {sum(tables.values()):,} rows, to {path}"
            + (f" and {len(files)} tenant file(s) in tenants/ beside it" if files else "")
            + ("; the wallboard in wallboard/index.html" if published[1].get("wallboard") else "")
            + (f"; held back, their last good figures kept: {', '.join(held)}" if held else "")
        )
    else:
        lines.append("published  nothing: the served marts are unchanged")
    if published[0] == "success" and tenants:
        lines += ["", *_latest_kpis(published[1].get("path"), tenants)]
    problems = _brief_problems(con, run_id, latest, run_status)
    lines += ["", f"problems   {'none' if not problems else len(problems)}"]
    lines += [f"  {problem}" for problem in problems[:BRIEF_PROBLEMS]]
    if len(problems) > BRIEF_PROBLEMS:
        lines.append(f"  ... and {len(problems) - BRIEF_PROBLEMS} more")
    # the notes of loaded files (records superseded or skipped, an encoding, unknown columns): counted here
    notes = f", and the notes of {noted:,} loaded file(s)" if noted else ""
    lines.append(f"full detail, per delivery day and file{notes}: the run log, or `callops run --verbose`")
    return "\n".join(lines)


def _brief_checks(latest: dict[str, tuple[str, dict]]) -> str:
    """dbt's models and tests, then the mart gate's checks; the Data Docs when a check failed."""
    parts = []
    if "build" in latest:
        status, build = latest["build"]
        plan = (build.get("plan") or "").split(": ")[0]
        if status == "success" and not build.get("nodes"):
            parts.append("dbt: nothing to build (no changed partitions)")
        else:
            parts.append(
                f"dbt {build.get('nodes', 0):,} models and tests" + (f", {plan}" if plan else "")
                + (": passed" if status == "success" else f": {status}")
            )
    else:
        parts.append("dbt did not run")
    if "validate" in latest and not latest["validate"][1].get("checks") and latest["validate"][0] == "success":
        parts.append("mart gate: nothing changed to check")
    elif "validate" in latest:
        validate = latest["validate"][1]
        checks = validate.get("checks") or []
        blocking = sum(1 for c in checks if not c.get("success") and c.get("severity") == "blocking")
        warnings = sum(1 for c in checks if not c.get("success") and c.get("severity") != "blocking")
        docs = f" (Data Docs: {validate['data_docs']})" if (blocking or warnings) and validate.get("data_docs") else ""
        parts.append(
            f"mart gate {len(checks):,} checks on {validate.get('partitions', 0):,} changed tenant-days: "
            f"{blocking} failed, {warnings} warning(s){docs}"
        )
    else:
        parts.append("mart gate did not run")
    return "; ".join(parts)


def _brief_problems(
    con: duckdb.DuckDBPyConnection, run_id: str, latest: dict[str, tuple[str, dict]], run_status: str | None
) -> list[str]:
    """One line each, what stops publication first: failed steps (why, dbt's failures), failed blocking
    checks, failed and held-back files (a file still held from an earlier run too), steps that did not
    run; then what does not: the checks' warnings, what the landing zone holds that is no delivery."""
    failed, blocking, warnings = [], [], []
    for step, (status, detail) in latest.items():
        checks = (detail.get("checks") or []) if step == "validate" else []
        for check in _across_tenants([check for check in checks if not check.get("success")]):
            (blocking if check.get("severity") == "blocking" else warnings).append(_check_line(check))
        if status != "failed":
            continue
        if step == "validate" and detail.get("held_back"):
            failed.append(
                f"{step:<9} held back {', '.join(detail['held_back'])}: their last good figures stay published, "
                "the other tenants' new figures are published (the failed checks below)"
            )
        elif detail.get("failure"):
            failed.append(f"{step:<9} failed: {detail['failure']}")
        elif step == "build":
            failed.append(f"{step:<9} failed" + (f": {detail['error']}" if detail.get("error") else ""))
            failed += [f"  dbt: {failure}" for failure in detail.get("failures") or []]
    files = [
        message
        for (message,) in con.execute(
            """
            select files.message from ops.run_files as files
            left join raw.manifest as manifest on files.file_id = manifest.file_id
            where files.run_id = ? and files.message is not null
                and (
                    files.action in ('failed', 'held')
                    or (files.action = 'unchanged' and manifest.gate_status = 'held')
                )
            order by files.action = 'unchanged', files.file_name
            """,
            [run_id],
        ).fetchall()
    ]
    missing = []
    if run_status != "success":
        missing = [f"{step} did not run" for step in ("load", "build", "validate", "publish") if step not in latest]
    load = latest.get("load", ("", {}))[1]
    skipped = [f"skipped in the landing zone (not a delivery): {line}" for line in load.get("landing_skipped", [])]
    return failed + blocking + files + missing + warnings + skipped


def _across_tenants(checks: list[dict]) -> list[dict]:
    """The gate's results are per tenant: one line per failed check, its tenants' keys and rows together."""
    merged: dict[tuple, dict] = {}
    for check in checks:
        key = tuple(check.get(name) for name in ("severity", "table", "check", "column", "notes"))
        if key not in merged:
            merged[key] = dict(check, failing_keys=list(check.get("failing_keys") or []))
            continue
        merged[key]["failing_keys"] += check.get("failing_keys") or []
        merged[key]["unexpected_count"] = merged[key].get("unexpected_count", 0) + check.get("unexpected_count", 0)
    return list(merged.values())


def _check_line(item: dict) -> str:
    """One failed gate check: severity, table, check and column, its first failing keys, its notes."""
    keys = f" at {', '.join(item['failing_keys'])}" if item.get("failing_keys") else ""
    more = item.get("unexpected_count", 0) - len(item.get("failing_keys") or [])
    keys += f" and {more} more" if more > 0 and keys else ""
    why = f": {item['notes']}" if item.get("notes") else ""
    return f"[{item['severity']}] {item['table']}: {item['check']} on {item['column']}{keys}{why}"


def _latest_kpis(path: str | None, tenants: list[str]) -> list[str]:
    """Each tenant's latest complete day in the published marts.rpt_daily_kpis (its latest day, marked
    partial, while none is complete), against the tenant's targets: whether each is met comes from the
    mart (is_*_target_met), never worked out here."""
    try:
        con = duckdb.connect(str(path), read_only=True)
        try:
            rows = con.execute(
                """
                select tenant_id, kpi_date, is_day_complete, offered_count,
                    service_level_rate, service_level_target, service_level_seconds, is_service_level_target_met,
                    answer_rate, answer_rate_target, is_answer_rate_target_met,
                    abandon_rate, abandon_rate_target, is_abandon_rate_target_met
                from marts.rpt_daily_kpis
                where list_contains($tenants, tenant_id)
                qualify row_number() over (partition by tenant_id order by is_day_complete desc, kpi_date desc) = 1
                order by tenant_id
                """,
                {"tenants": tenants},
            ).fetchall()
        finally:
            con.close()
    except duckdb.Error as error:
        return [f"KPIs: {path} cannot be read ({type(error).__name__}: {str(error).splitlines()[0]})"]
    if not rows:
        return ["KPIs: no published day of these tenants yet"]
    table = []
    for (tenant, day, complete, offered, sl, sl_target, sl_seconds, sl_met, answer, answer_target, answer_met,
         abandon, abandon_target, abandon_met) in rows[:BRIEF_TENANTS]:  # fmt: skip
        table.append((
            tenant,
            f"{day}" + ("" if complete else " (partial)"),
            offered,
            _against(sl, f">= {_pct(sl_target)} in {sl_seconds} s", sl_met),
            _against(answer, f">= {_pct(answer_target)}", answer_met),
            _against(abandon, f"<= {_pct(abandon_target)}", abandon_met),
        ))  # fmt: skip
    columns = ["tenant", "latest day", "offered", "service level (target)", "answer rate (target)",
               "abandon rate (target)"]  # fmt: skip
    text = format_table(columns, table).splitlines()
    lines = ["latest complete day, against target (published marts.rpt_daily_kpis; `callops kpis` has every day):"]
    lines += [f"  {line}" for line in (text[0], *text[2:])]
    if len(rows) > BRIEF_TENANTS:
        lines.append(f"  ... and {len(rows) - BRIEF_TENANTS} more tenants (`callops kpis`)")
    return lines


def _pct(rate: float | None) -> str:
    return "?" if rate is None else f"{float(rate) * 100:.4g}%"


def _against(rate: float | None, target: str, met: bool | None) -> str:
    verdict = {True: " met", False: " MISSED", None: ""}[met]
    return f"{'n/a' if rate is None else f'{float(rate):.1%}'} ({target}){verdict}"


def _step_note(step: str, detail: object) -> str:
    # why a step failed, when callops.tasks recorded it (a full disk, a fault); then what the step said
    failure = detail.get("failure") if isinstance(detail, dict) else None
    if failure and set(detail) == {"failure"}:
        return f": {failure}"
    return (f": {failure}" if failure else "") + _step_detail(step, detail)


def _step_detail(step: str, detail: object) -> str:
    if step == "load" and isinstance(detail, dict):
        counts = [f"{detail.get('rows_loaded', 0)} rows", f"{detail.get('rows_rejected', 0)} rejected"]
        counts += [f"{detail[key]} {key[5:]}" for key in ("rows_superseded", "rows_skipped") if detail.get(key)]
        return f"  ({detail.get('files', 0)} files, {', '.join(counts)})"
    if step == "build" and isinstance(detail, dict):
        failures = detail.get("failures") or ([detail["error"]] if detail.get("error") else [])
        plan = f": {detail['plan']}" if detail.get("plan") else ""
        return f"  ({detail.get('nodes', 0)} dbt nodes{plan})" + "".join(f"\n      {f}" for f in failures)
    if step == "validate" and isinstance(detail, dict):
        checks = detail.get("checks") or []
        failed = [d for d in checks if not d.get("success")]
        text = f"  ({len(checks)} checks on {detail.get('partitions', 0)} changed tenant-days, {len(failed)} failed)"
        text += "".join(f"\n      {_check_line(item)}" for item in failed)
        if detail.get("data_docs"):
            text += f"\n      Data Docs: {detail['data_docs']}"
        return text
    if step == "publish" and isinstance(detail, dict):
        tables = ", ".join(f"marts.{t} {n} rows" for t, n in (detail.get("tables") or {}).items())
        held = detail.get("held_back") or []
        tenants = "".join(
            f"\n      tenant {tenant}: {item['path']}, {item['rows']} rows"
            + (" (held back: its last good figures)" if tenant in held else "")
            for tenant, item in (detail.get("tenants") or {}).items()
        )
        return f"  ({detail.get('path')}: {tables})" + tenants
    return ""


def published_kpis(tenant: str | None, start: dt.date | None, end: dt.date | None) -> str | None:
    path = settings.published_db_path()
    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            f"""
            select {', '.join(KPI_COLUMNS)} from marts.rpt_daily_kpis
            where ($tenant is null or tenant_id = $tenant)
              and ($start is null or kpi_date >= $start)
              and ($end is null or kpi_date <= $end)
            order by tenant_id, kpi_date
            """,
            {"tenant": tenant, "start": start, "end": end},
        ).fetchall()
    finally:
        con.close()
    header = [c.replace("_count", "").replace("_seconds", "_s") for c in KPI_COLUMNS]
    return f"marts.rpt_daily_kpis ({path}):\n" + format_table(header, rows)


def rejects(tenant: str | None, delivery_date: dt.date | None) -> str:
    if not settings.build_db_path().exists():
        return "no build warehouse yet: nothing was loaded"
    with warehouse.session(read_only=True) as con:
        rows = con.execute(
            """
            select delivery_date, tenant_id, feed, file_name, line, reason, raw_text
            from raw.rejects
            where ($tenant is null or tenant_id = $tenant)
              and ($date is null or delivery_date = $date)
            order by delivery_date, tenant_id, feed, file_name, line
            """,
            {"tenant": tenant, "date": delivery_date},
        ).fetchall()
    if not rows:
        return "no rejected rows"
    return format_table(["delivery_day", "tenant", "feed", "file", "line", "reason", "raw_text"], rows)
