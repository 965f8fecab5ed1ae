"""The other feeds of a simulated tenant, coherent with its calls: HR, QA, marketing (CSV contracts).

Columns come from the contracts in :mod:`callops.contracts.hr`, :mod:`callops.contracts.qa` and
:mod:`callops.contracts.marketing`, in their order. Ids agree across feeds: ``agent_id`` is the roster id
the calls carry, ``contact_id`` the id the telephony loader stores for the tenant's format
(:func:`callops.simulate.writers.contact_ids`).

- HR: a roster snapshot on the first day and every Monday (hires and leavers as they happen,
  dispatched labour share), the day's shifts as the simulation used them (work, breaks, lunch),
  attendance (absent agents never logged in; late logins are ``late``), onboarding training of new
  hires (most pass; who passes scores better) and a monthly refresher for a tenth of the agents.
- QA: about 3 % of answered stints evaluated on a six-criterion form, scores rising with tenure and
  training, a few fatal errors; a calibration session on the 10th and 25th (four evaluators with
  personal bias scoring the same call, plus the consensus); CSAT surveys after ~15 % of answered
  contacts, satisfaction falling with the wait and when the call was transferred.
- Marketing: three in-call campaigns; on answered front-desk calls a pop-up is shown, the agent
  pitches, the customer accepts (shown -> pitched -> accepted funnel) with revenue and commission.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zlib
from pathlib import Path

import numpy as np

from callops.contracts import hr, marketing, qa
from callops.simulate.model import (
    BREAKS,
    O_ANSWERED,
    POOL_QUEUES,
    QUEUES,
    DayCalls,
    TenantPlan,
    rng_for,
)
from callops.simulate.writers import contact_ids, local_strings

CONTRACTS = {c.table: c for c in (*hr.CONTRACTS, *qa.CONTRACTS, *marketing.CONTRACTS)}
CRITERIA = (  # (criterion_id, section, name, max_score, weight, is_fatal)
    ("greeting", "opening", "Greeting and identification", 5, 1.0, False),
    ("verification", "compliance", "Customer identity verified", 10, 2.0, True),
    ("needs", "handling", "Needs understood", 10, 1.5, False),
    ("accuracy", "handling", "Correct information given", 10, 2.0, True),
    ("empathy", "soft_skills", "Empathy and tone", 5, 1.0, False),
    ("closing", "closing", "Summary and closing", 5, 1.0, False),
)
EVALUATORS = ("qa01", "qa02", "qa03", "qa04", "qa05")
CAMPAIGNS = (  # (id, name, product, segment, unit value, commission)
    ("cmp_card_upgrade", "Card upgrade", "platinum_card", "vip", 420.0, 35.0),
    ("cmp_insurance", "Travel insurance add-on", "travel_insurance", "standard", 95.0, 12.0),
    ("cmp_paperless", "Paperless statements", "e_statement", "standard", 8.0, 0.5),
)


def _trained(plan: TenantPlan) -> np.ndarray:
    """Passed onboarding (new hires of the period) or trained before it: 90 % of agents."""
    rng = rng_for(plan.seed, plan.tenant.id, None, stream=3)
    return rng.random(len(plan.roster.agent_ids)) < 0.9


class FeedWriter:
    """Writes the HR, QA and marketing files of one tenant, day by day, into ``landing/<feed>/...``."""

    def __init__(self, plan: TenantPlan, landing: Path, window: tuple[dt.date | None, dt.date | None] = (None, None)):
        self.plan = plan
        self.landing = landing
        self.window = window
        self.trained = _trained(plan)
        self.written: list[tuple[Path, int]] = []

    def _write(self, feed: str, table: str, day: dt.date, name: str, rows: list[dict]) -> None:
        first, last = self.window
        if not rows or (first and day < first) or (last and day > last):
            return
        columns = CONTRACTS[table].names
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        path = self.landing / feed / self.plan.tenant.id / day.isoformat() / name
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(buffer.getvalue(), encoding="utf-8")
        partial.replace(path)
        self.written.append((path, len(rows)))

    def add(self, dc: DayCalls) -> None:
        day = dc.day
        rng = rng_for(self.plan.seed, self.plan.tenant.id, day, stream=4)
        if day == self.plan.start or day.weekday() == 0:
            self._write("hr", "hr_roster", day, f"roster_{day.isoformat()}.csv", self.roster_rows(day))
        if day == self.plan.start:
            self._write("marketing", "marketing_campaigns", day, "campaigns.csv", self.campaign_rows())
        self._write("hr", "hr_shifts", day, f"shifts_{day.isoformat()}.csv", self.shift_rows(dc))
        self._write("hr", "hr_attendance", day, f"attendance_{day.isoformat()}.csv", self.attendance_rows(dc))
        self._write("hr", "hr_training", day, f"training_{day.isoformat()}.csv", self.training_rows(day))
        ids = contact_ids(dc)
        evaluations = self.evaluation_rows(dc, ids, rng)
        self._write("qa", "qa_evaluations", day, f"evaluations_{day.isoformat()}.csv", evaluations)
        if day.day in (10, 25) and evaluations:
            self._write("qa", "qa_calibrations", day, f"calibration_{day.isoformat()}.csv",
                        self.calibration_rows(dc, evaluations, rng))
        self._write("qa", "csat_surveys", day, f"csat_{day.isoformat()}.csv", self.csat_rows(dc, ids, rng))
        self._write("marketing", "marketing_offers", day, f"offers_{day.isoformat()}.csv",
                    self.offer_rows(dc, ids, rng))

    def close(self, first_chunk: bool = True) -> list[tuple[Path, int]]:
        return self.written

    # --- HR
    def roster_rows(self, day: dt.date) -> list[dict]:
        r = self.plan.roster
        d = np.datetime64(day, "D")
        lead: dict[str, str] = {}
        for i, team in enumerate(r.team):
            lead.setdefault(team, r.agent_ids[i])
        rows = []
        for i, agent in enumerate(r.agent_ids):
            if r.hire_date[i] > d:
                continue
            left = not np.isnat(r.leave_date[i]) and r.leave_date[i] <= d
            team = r.team[i]
            rows.append({
                "agent_id": agent,
                "team_id": team,
                "team_name": team.replace("_", " ").title(),
                "employment_type": "dispatched" if r.is_dispatched[i] else "full_time",
                "vendor": "StaffBridge Ltd" if r.is_dispatched[i] else "",
                "hire_date": str(r.hire_date[i]),
                "termination_date": str(r.leave_date[i]) if left else "",
                "termination_type": ("voluntary" if i % 5 else "involuntary") if left else "",
                "termination_reason": ("new job" if i % 5 else "performance") if left else "",
                "supervisor_id": lead[team],
                "site": "main",
                "role": "agent",
                "skills": ";".join(QUEUES[q] for q in POOL_QUEUES[int(r.pool[i])]),
                "contracted_hours_per_week": 40,
                "cost_per_hour": 22.0 if r.is_dispatched[i] else 28.0,
            })
        return rows

    def shift_rows(self, dc: DayCalls) -> list[dict]:
        zone = self.plan.zone
        r = self.plan.roster
        breaks: dict[int, list[tuple[int, int, int]]] = {}
        for agent, start, seconds, reason in dc.breaks:
            breaks.setdefault(agent, []).append((start, seconds, reason))
        rows = []
        for agent, start, end, _absent, _login in dc.shifts:
            shift_id = f"{r.agent_ids[agent]}-{dc.day:%Y%m%d}"
            queue = QUEUES[POOL_QUEUES[int(r.pool[agent])][-1]]
            planned = breaks.get(agent) or [
                (start + int(h * 3600), s, reason) for h, s, reason in BREAKS
            ]  # absent agents keep their planned breaks
            cursor = start
            pieces = []
            for b_start, seconds, reason in sorted(planned):
                pieces.append(("work", cursor, b_start, True))
                pieces.append(("lunch" if reason else "break", b_start, b_start + seconds, not reason))
                cursor = b_start + seconds
            pieces.append(("work", cursor, end, True))
            stamps = local_strings(np.array([x for p in pieces for x in p[1:3]], dtype=np.int64), zone, sep="T",
                                   offset=True)
            for k, (activity, _s, _e, paid) in enumerate(pieces):
                rows.append({
                    "agent_id": r.agent_ids[agent],
                    "shift_date": dc.day.isoformat(),
                    "activity": activity,
                    "starts_at": stamps[2 * k],
                    "ends_at": stamps[2 * k + 1],
                    "shift_id": shift_id,
                    "queue_id": queue if activity == "work" else "",
                    "activity_name": activity.title(),
                    "is_paid": "true" if paid else "false",
                })
        return rows

    def attendance_rows(self, dc: DayCalls) -> list[dict]:
        zone = self.plan.zone
        r = self.plan.roster
        logout = {}
        for t, a, st in zip(dc.state_time.tolist(), dc.state_agent.tolist(), dc.state.tolist()):
            if st == 3:
                logout[a] = t
        rows = []
        for agent, start, end, absent, login in dc.shifts:
            if absent:
                sick = zlib.crc32(f"{agent}{dc.day}".encode()) % 3 == 0
                rows.append({
                    "agent_id": r.agent_ids[agent], "work_date": dc.day.isoformat(),
                    "status": "sick" if sick else "absent", "absence_reason": "sick" if sick else "unexcused",
                    "is_planned": "false", "absence_seconds": end - start,
                })
                continue
            out = logout.get(agent, end)
            ins, outs = local_strings(np.array([login, out], dtype=np.int64), zone, sep="T", offset=True)
            rows.append({
                "agent_id": r.agent_ids[agent], "work_date": dc.day.isoformat(),
                "status": "late" if login - start >= 60 else "present",
                "absence_seconds": max(0, login - start), "clock_in_at": ins, "clock_out_at": outs,
            })
        return rows

    def training_rows(self, day: dt.date) -> list[dict]:
        r = self.plan.roster
        d = np.datetime64(day, "D")
        rows = []
        for i in np.flatnonzero(r.hire_date == d).tolist():  # onboarding of the day's hires
            passed = bool(self.trained[i])
            rows.append({
                "agent_id": r.agent_ids[i], "course_id": "onboarding", "course_name": "New agent onboarding",
                "course_type": "onboarding", "started_on": day.isoformat(),
                "completed_on": (day + dt.timedelta(days=5)).isoformat(), "is_passed": "true" if passed else "false",
                "score": 85 if passed else 55, "training_seconds": 5 * 8 * 3600,
                "certification": "phone_ready" if passed else "",
                "certified_until": (day + dt.timedelta(days=365)).isoformat() if passed else "",
            })
        if day.day == 1:  # monthly product refresher for a tenth of the active agents
            active = np.flatnonzero(r.active(day)).tolist()
            for i in active[zlib.crc32(day.isoformat().encode()) % 10 :: 10]:
                rows.append({
                    "agent_id": r.agent_ids[i], "course_id": f"refresher_{day:%Y%m}",
                    "course_name": "Product refresher",
                    "course_type": "product", "started_on": day.isoformat(), "completed_on": day.isoformat(),
                    "is_passed": "true", "score": 80, "training_seconds": 2 * 3600,
                })
        return rows

    # --- QA
    def _quality(self, agent: int, day: dt.date) -> float:
        r = self.plan.roster
        tenure = float((np.datetime64(day, "D") - r.hire_date[agent]).astype(int))
        return 0.62 + 0.2 * min(tenure / 365.0, 1.0) + (0.1 if self.trained[agent] else -0.08)

    def evaluation_rows(self, dc: DayCalls, ids: list[str], rng: np.random.Generator) -> list[dict]:
        answered = np.flatnonzero(dc.outcome == O_ANSWERED)
        picked = answered[rng.random(len(answered)) < 0.03]
        evaluated = local_strings(dc.ended[picked] + rng.integers(3600, 6 * 3600, len(picked)), self.plan.zone,
                                  sep="T", offset=True)
        rows = []
        for k, s in enumerate(picked.tolist()):
            agent = int(dc.agent[s])
            quality = self._quality(agent, dc.day)
            evaluator = EVALUATORS[int(rng.integers(0, len(EVALUATORS)))]
            eval_id = f"ev-{self.plan.tenant.id}-{dc.day:%Y%m%d}-{s:06d}"
            fatal_fail = rng.random() < 0.02 * (1.5 - quality)
            fatal_on = "verification" if rng.random() < 0.5 else "accuracy"
            for cid, section, name, max_score, weight, is_fatal in CRITERIA:
                u = rng.random()
                score = max_score if u < quality else (max_score / 2 if u < quality + 0.2 else 0)
                failed = fatal_fail and cid == fatal_on
                rows.append({
                    "evaluation_id": eval_id, "contact_id": ids[dc.contact[s]],
                    "agent_id": self.plan.roster.agent_ids[agent],
                    "form_id": "voice_standard", "form_version": 3, "criterion_id": cid, "section": section,
                    "criterion_name": name,
                    "answer": "no" if failed or score == 0 else ("yes" if score == max_score else "partially"),
                    "score": 0 if failed else score, "max_score": max_score, "weight": weight,
                    "is_fatal": "true" if is_fatal else "false", "is_auto_fail": "true" if failed else "false",
                    "is_not_applicable": "false", "evaluated_at": evaluated[k], "evaluator_id": evaluator,
                    "status": "submitted",
                })
        return rows

    def calibration_rows(self, dc: DayCalls, evaluations: list[dict], rng: np.random.Generator) -> list[dict]:
        first = evaluations[0]
        session = f"cal-{self.plan.tenant.id}-{dc.day:%Y%m%d}"
        at = first["evaluated_at"]
        bias = {e: (zlib.crc32(f"{self.plan.tenant.id}{e}".encode()) % 7 - 3) / 10 for e in EVALUATORS}
        reference = [row for row in evaluations if row["evaluation_id"] == first["evaluation_id"]]
        rows = []
        for evaluator in (*EVALUATORS[:4], ""):
            for row in reference:
                max_score = row["max_score"]
                if evaluator:
                    shift = max_score * (bias[evaluator] + rng.normal(0, 0.1))
                    score = float(np.clip(row["score"] + shift, 0, max_score))
                    score = round(score * 2) / 2
                else:
                    score = row["score"]
                rows.append({
                    "calibration_id": session, "evaluator_id": evaluator, "criterion_id": row["criterion_id"],
                    "score": score, "calibrated_at": at, "evaluation_id": row["evaluation_id"],
                    "contact_id": row["contact_id"], "agent_id": row["agent_id"], "form_id": row["form_id"],
                    "form_version": row["form_version"], "criterion_name": row["criterion_name"],
                    "max_score": max_score, "weight": row["weight"],
                    "is_auto_fail": row["is_auto_fail"] if not evaluator else "false",
                    "is_not_applicable": "false", "is_consensus": "false" if evaluator else "true",
                })
        return rows

    def csat_rows(self, dc: DayCalls, ids: list[str], rng: np.random.Generator) -> list[dict]:
        first_answer: dict[int, int] = {}
        wait: dict[int, int] = {}
        transferred: dict[int, bool] = {}
        for s in np.flatnonzero(dc.outcome == O_ANSWERED).tolist():
            c = int(dc.contact[s])
            if c not in first_answer:
                first_answer[c] = s
                wait[c] = int(dc.answered[s] - dc.queue_entry[c])
            transferred[c] = transferred.get(c, False) or bool(dc.transferred[s])
        contacts = [c for c in first_answer if rng.random() < 0.15]
        ends = local_strings(np.array([dc.ended[first_answer[c]] + 120 for c in contacts], dtype=np.int64),
                             self.plan.zone, sep="T", offset=True)
        rows = []
        for k, c in enumerate(contacts):
            s = first_answer[c]
            resolved = rng.random() < (0.62 if transferred[c] else 0.84)
            mood = 4.3 - 0.9 * min(wait[c] / 180.0, 1.5) - (1.2 if not resolved else 0) + rng.normal(0, 0.7)
            rows.append({
                "survey_id": f"sv-{self.plan.tenant.id}-{dc.day:%Y%m%d}-{c:06d}", "contact_id": ids[c],
                "answered_at": ends[k], "score": int(np.clip(round(mood), 1, 5)), "scale_max": 5, "scale_min": 1,
                "agent_id": self.plan.roster.agent_ids[int(dc.agent[s])], "queue_id": QUEUES[int(dc.queue[s])],
                "channel": "ivr" if c % 2 else "sms", "caller_number": dc.caller[c],
                "is_resolved": "true" if resolved else "false",
            })
        return rows

    # --- marketing
    def campaign_rows(self) -> list[dict]:
        start, end = self.plan.start, self.plan.end
        rows = []
        for k, (cid, name, product, segment, value, commission) in enumerate(CAMPAIGNS):
            rows.append({
                "campaign_id": cid, "campaign_name": name, "starts_on": start.isoformat(),
                "ends_on": "" if k == 0 else end.isoformat(), "product": product, "direction": "inbound",
                "target_segment": segment, "currency": "EUR", "unit_value": value, "commission_per_sale": commission,
                "agent_cost_per_hour": 28.0, "fixed_cost": 2000.0 * (k + 1), "business_weight": [1.5, 1.0, 0.6][k],
            })
        return rows

    def offer_rows(self, dc: DayCalls, ids: list[str], rng: np.random.Generator) -> list[dict]:
        front = np.flatnonzero((dc.outcome == O_ANSWERED) & (dc.queue != 2) & (dc.stint_no == 0))
        front = front[rng.random(len(front)) < 0.3]  # pop-up triggered for eligible customers
        stamps = local_strings(dc.answered[front] + 60, self.plan.zone, sep="T", offset=True)
        rows = []
        for k, s in enumerate(front.tolist()):
            c = int(dc.contact[s])
            vip = bool(dc.is_vip[c])
            cid, _name, _product, _segment, value, commission = CAMPAIGNS[0 if vip else 1 + int(rng.random() < 0.4)]
            shown = rng.random() < 0.9
            pitched = shown and rng.random() < (0.7 if self._quality(int(dc.agent[s]), dc.day) > 0.8 else 0.5)
            accepted = pitched and rng.random() < (0.18 if vip else 0.1)
            rows.append({
                "offer_id": f"of-{self.plan.tenant.id}-{dc.day:%Y%m%d}-{s:06d}", "campaign_id": cid,
                "contact_id": ids[c], "offered_at": stamps[k], "is_shown": str(shown).lower(),
                "is_pitched": str(pitched).lower(), "is_accepted": str(accepted).lower(),
                "agent_id": self.plan.roster.agent_ids[int(dc.agent[s])],
                "decline_reason": "" if accepted or not pitched else ("not_interested" if c % 3 else "price"),
                "revenue": value if accepted else "", "commission": commission if accepted else "",
                "pitch_seconds": int(rng.integers(30, 120)) if pitched else "",
            })
        return rows

