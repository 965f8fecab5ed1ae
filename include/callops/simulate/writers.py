"""Writers: the same simulated calls in each telephony format, as the real systems write them (docs/formats.md).

- ``asterisk_queue_log``: ``epoch|callid|queue|agent|EVENT|data...`` (D1), one file per delivery day
  (``queue_log-YYYYMMDD``) holding the events of local 00:00-24:00, or rotated at another local hour,
  optionally repeating the previous file's last lines (a re-export overlap: exact duplicate lines).
  Agents log as member names (``log_membername_as_agent=yes``), so the agent field is the roster id.
- ``asterisk_cdr``: ``Master.csv`` (D2) with ``loguniqueid``, ``loguserfield`` and ``newcdrcolumns``
  (21 columns), local time, one file per delivery day (local date of the call's end, when Asterisk
  writes the record). The dialplan plays the IVR without ``Answer()`` and then runs ``Queue()``, so
  ``answer`` is the agent's connect time and ``billsec`` the talk (+ hold) seconds; an unanswered call
  has an empty, unquoted ``answer``. An IVR-contained call is answered by the IVR (``BackGround``).
  A blind transfer writes a second record for the same caller channel: same ``uniqueid`` and
  ``linkedid``, next ``sequence``.
- ``amazon_connect_ctr``: JSON lines, one contact trace record per line (D3), in Firehose-named files
  (``callops-ctr-stream-1-YYYY-MM-DD-HH-MM-SS-<uuid>``, UTC hour of delivery) in the folder of the local
  delivery day. An overflow to another queue stays one contact (the last queue, enqueued at the first
  entry); a transfer by an agent makes a new contact (``InitiationMethod`` TRANSFER, same
  ``InitialContactId``). At least once: about 1 % of records come twice, 2 % again later with a newer
  ``LastUpdateTimestamp``.
- ``callops_contact_csv``: the contract's columns, one row per stint, timestamps with UTC offsets.
- ``callops_agent_state_csv``: agent states for the formats that have none of their own.

Intraday (``intraday_minutes``): each delivery file is written as M-minute chunks of the local day,
``<file name>-YYYYMMDD-HHMM`` (the chunk's local start), in the same delivery day folder. A chunk
holds what the source had written by the window's end: queue_log and agent-state lines by their event
time, CDR and CTR records and contact-CSV rows once the contact ended (a contact still going at the
window's end is in a later chunk). A CSV chunk repeats the header; a window with nothing written in it
has no chunk file.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import uuid
import zlib
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from callops.contracts.telephony import AGENT_STATE_CSV as AGENT_STATE_CONTRACT
from callops.contracts.telephony import CONTACT_CSV
from callops.simulate.model import (
    O_ABANDONED,
    O_ANSWERED,
    O_IVR,
    O_OVERFLOW,
    O_TIMEOUT,
    OUTCOMES,
    PAUSE_REASONS,
    POOL_QUEUES,
    QUEUES,
    S_LOGIN,
    S_LOGOUT,
    S_PAUSED,
    S_READY,
    STATES,
    TRANSFER_TARGET,
    DayCalls,
)

FEED = "telephony"
CONTACT_COLUMNS = CONTACT_CSV.names
AWS_ACCOUNT = "123456789012"
QUEUE_EXTENSION = {"general": "6001", "vip": "6002", "billing": "6003"}


# --- ids shared by all feeds --------------------------------------------------------------------------

def call_seq(dc: DayCalls) -> np.ndarray:
    """Asterisk-style channel sequence numbers, unique per tenant: day * 1e6 + contact."""
    return (dc.day.toordinal() - 738000) * 1_000_000 + np.arange(dc.contact_count, dtype=np.int64)


def asterisk_ids(dc: DayCalls) -> list[str]:
    """Caller channel uniqueid (``epoch.sequence``) of each contact: queue_log callid, CDR uniqueid."""
    if "asterisk_ids" not in dc.cache:
        dc.cache["asterisk_ids"] = [f"{a}.{s}" for a, s in zip(dc.arrival.tolist(), call_seq(dc).tolist())]
    return dc.cache["asterisk_ids"]


def _uuid(*parts: object) -> str:
    return str(uuid.UUID(bytes=hashlib.md5("/".join(map(str, parts)).encode()).digest(), version=4))


def ctr_ids(dc: DayCalls, leg: int = 0) -> list[str]:
    """Amazon Connect ContactId of each contact's leg (0: the inbound contact, 1: after a transfer)."""
    key = ("ctr_ids", leg)
    if key not in dc.cache:
        p = dc.plan
        key_parts = [p.seed & 0xFFFFFFFF, zlib.crc32(p.tenant.id.encode()), dc.day.toordinal(), 100 + leg]
        rng = np.random.default_rng(key_parts)
        raw = rng.integers(0, 256, (dc.contact_count, 16), dtype=np.uint8)
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw.tobytes().hex()
        dc.cache[key] = [
            f"{h[i:i + 8]}-{h[i + 8:i + 12]}-{h[i + 12:i + 16]}-{h[i + 16:i + 20]}-{h[i + 20:i + 32]}"
            for i in range(0, len(h), 32)
        ]
    return dc.cache[key]


def csv_ids(dc: DayCalls) -> list[str]:
    return [f"{dc.plan.tenant.id}-{dc.day:%Y%m%d}-{c:06d}" for c in range(dc.contact_count)]


def contact_ids(dc: DayCalls, fmt: str | None = None) -> list[str]:
    """The id each contact gets in the warehouse: queue_log callid / CDR linkedid, CTR InitialContactId,
    CSV contact_id."""
    fmt = fmt or dc.plan.fmt
    if fmt in ("asterisk_queue_log", "asterisk_cdr"):
        return asterisk_ids(dc)
    if fmt == "amazon_connect_ctr":
        return ctr_ids(dc)
    return csv_ids(dc)


def agent_ids(dc: DayCalls) -> list[str]:
    return list(dc.plan.roster.agent_ids)


# --- time ------------------------------------------------------------------------------------------------

def _offsets(epochs: np.ndarray, zone: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """UTC offset (seconds) of each epoch, and the index of its offset in the unique list (15-min buckets)."""
    buckets, inverse = np.unique(epochs // 900, return_inverse=True)
    offs = np.array(
        [int(dt.datetime.fromtimestamp(int(b) * 900, zone).utcoffset().total_seconds()) for b in buckets.tolist()],
        dtype=np.int64,
    )
    return offs[inverse] if len(offs) else np.zeros(len(epochs), np.int64), inverse


def local_strings(epochs: np.ndarray, zone: ZoneInfo, *, sep: str = " ", offset: bool = False) -> list[str]:
    """``YYYY-MM-DD hh:mm:ss`` wall clock (with ``+hh:mm`` when asked) of each epoch; '' for -1."""
    epochs = np.asarray(epochs, dtype=np.int64)
    if not len(epochs):
        return []
    valid = epochs >= 0
    offs, _ = _offsets(np.where(valid, epochs, 0), zone)
    text = np.datetime_as_string((epochs + offs).astype("datetime64[s]"), unit="s").tolist()
    if sep != "T":
        text = [t.replace("T", sep) for t in text]
    if offset:
        suffix = {
            o: f"{'+' if o >= 0 else '-'}{abs(o) // 3600:02d}:{abs(o) % 3600 // 60:02d}" for o in set(offs.tolist())
        }
        text = [t + suffix[o] for t, o in zip(text, offs.tolist())]
    return [t if v else "" for t, v in zip(text, valid.tolist())]


def utc_strings(epochs: np.ndarray) -> list[str]:
    """``YYYY-MM-DDThh:mm:ssZ`` of each epoch (Amazon Connect)."""
    return [t + "Z" for t in np.datetime_as_string(np.asarray(epochs, "datetime64[s]"), unit="s").tolist()]


def _local_day_starts(zone: ZoneInfo, first: dt.date, last: dt.date, hour: int) -> tuple[list[dt.date], np.ndarray]:
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    starts = [int(dt.datetime.combine(d, dt.time(hour), tzinfo=zone).timestamp()) for d in days]
    return days, np.asarray(starts, dtype=np.int64)


# --- the writer -----------------------------------------------------------------------------------------

class TelephonyWriter:
    """Streams simulated days of one tenant into delivery files of one format.

    ``add(day)`` renders the day's records and files them under their delivery day; days that no later
    simulated day can still add to are written at once (bounded memory). ``close()`` writes the rest.
    With ``folder`` every record goes into that one folder, one file per format (tests, comparisons).
    """

    def __init__(
        self,
        fmt: str,
        *,
        landing: Path | None = None,
        folder: Path | None = None,
        rotate_hour: int = 0,
        overlap_seconds: int = 0,
        window: tuple[dt.date | None, dt.date | None] = (None, None),
        intraday_minutes: int | None = None,
    ) -> None:
        if (landing is None) == (folder is None):
            raise ValueError("give landing or folder")
        if intraday_minutes is not None and not 1 <= intraday_minutes <= 1440:
            raise ValueError(f"intraday minutes must be 1-1440, not {intraday_minutes}")
        self.fmt = fmt
        self.landing = landing
        self.folder = folder
        self.rotate_hour = rotate_hour
        self.overlap_seconds = overlap_seconds
        self.window = window  # delivery days outside [first, last] are dropped (another worker writes them)
        self.intraday_minutes = intraday_minutes if landing is not None else None
        # (delivery day, name) -> (sort epoch, order, line, epoch the line was written at: its chunk)
        self.pending: dict[tuple[dt.date, str], list[tuple[int, int, str, int]]] = defaultdict(list)
        self.headers: dict[str, str] = {}
        self.counter = 0
        self.written: list[tuple[Path, int]] = []
        self.tenant_id = ""
        self.zone: ZoneInfo | None = None

    # -- filing
    def _target(self, delivery_day: dt.date, name: str) -> Path:
        if self.folder is not None:
            return self.folder / name
        return self.landing / FEED / self.tenant_id / delivery_day.isoformat() / name

    def _file(
        self, delivery_day: dt.date, name: str, epochs: np.ndarray, lines: list[str], written: np.ndarray | None = None
    ) -> None:
        """File lines under a delivery day's file; ``written``: the epoch each line was written at (its
        intraday chunk), by default its sort epoch."""
        bucket = self.pending[(delivery_day, name)]
        base = self.counter
        at = epochs if written is None else written
        bucket.extend(zip(epochs.tolist(), range(base, base + len(lines)), lines, at.tolist()))
        self.counter += len(lines)

    def _chunks(self, name: str, rows: list[tuple[int, int, str, int]]) -> list[tuple[str, list]]:
        """The rows of one file as (chunk file name, rows) per M-minute local window, in order; no chunk
        for an empty window. Without intraday minutes, the file itself."""
        if not self.intraday_minutes:
            return [(name, rows)]
        written = np.asarray([row[3] for row in rows], dtype=np.int64)
        local = written + _offsets(written, self.zone)[0]  # wall clock seconds
        width = self.intraday_minutes * 60
        start = local // 86400 * 86400 + local % 86400 // width * width  # the window's local start
        chunks: dict[int, list] = defaultdict(list)
        for row, s in zip(rows, start.tolist()):
            chunks[s].append(row)
        stamp = {s: dt.datetime.fromtimestamp(s, dt.UTC) for s in chunks}  # local wall clock, as if UTC
        return [(f"{name}-{stamp[s]:%Y%m%d-%H%M}", chunks[s]) for s in sorted(chunks)]

    def _flush(self, keep_from: dt.date | None) -> None:
        for key in sorted(self.pending):
            day, name = key
            if keep_from is not None and day >= keep_from:
                continue
            rows = self.pending.pop(key)
            first, last = self.window
            if (first and day < first) or (last and day > last):
                continue
            rows.sort()
            header = self.headers.get(name.split("-")[0] if name.startswith("queue_log") else name, "")
            for chunk_name, chunk_rows in self._chunks(name, rows):
                self._write(self._target(day, chunk_name), header, chunk_rows)

    def _write(self, path: Path, header: str, rows: list[tuple[int, int, str, int]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "a" if (self.folder is not None and path.exists()) else "w"
        partial = path.with_name(path.name + ".partial")
        if mode == "a":
            with path.open("a", encoding="utf-8", newline="") as handle:
                handle.write("".join(row[2] for row in rows))
        else:
            with partial.open("w", encoding="utf-8", newline="") as handle:
                handle.write(header)
                handle.write("".join(row[2] for row in rows))
            partial.replace(path)  # appear whole: the loader skips *.partial files
        self.written.append((path, len(rows)))

    def add(self, dc: DayCalls) -> None:
        self.tenant_id = dc.plan.tenant.id
        self.zone = dc.plan.zone
        render = {
            "asterisk_queue_log": self._queue_log,
            "asterisk_cdr": self._cdr,
            "amazon_connect_ctr": self._ctr,
            "callops_contact_csv": self._contact_csv,
            "callops_agent_state_csv": self._agent_states,
        }[self.fmt]
        render(dc)
        if self.folder is None:
            # a later day's events start at its local midnight; rotation and overlap reach back a day
            self._flush(keep_from=dc.day - dt.timedelta(days=1))

    def close(self) -> list[tuple[Path, int]]:
        self._flush(keep_from=None)
        return self.written

    def _by_delivery_day(self, dc: DayCalls, epochs: np.ndarray, hour: int) -> list[tuple[dt.date, np.ndarray]]:
        """Split record indices by local delivery day, days starting at `hour` local."""
        zone = dc.plan.zone
        days, starts = _local_day_starts(zone, dc.day - dt.timedelta(days=1), dc.day + dt.timedelta(days=3), hour)
        slot = np.searchsorted(starts, epochs, side="right") - 1
        return [(days[k], np.flatnonzero(slot == k)) for k in np.unique(slot).tolist()]

    # -- asterisk queue_log
    def _queue_log(self, dc: DayCalls) -> None:
        epochs, lines = queue_log_lines(dc)
        if self.folder is not None:
            self._file(dc.day, "queue_log", epochs, lines)
            return
        arr = np.asarray(lines, dtype=object)
        for day, idx in self._by_delivery_day(dc, epochs, self.rotate_hour):
            self._file(day, f"queue_log-{day:%Y%m%d}", epochs[idx], arr[idx].tolist())
        if self.overlap_seconds:
            # a re-export: each file starts with the previous file's last `overlap` seconds, line for line
            primary = dict((day, set(idx.tolist())) for day, idx in self._by_delivery_day(dc, epochs, self.rotate_hour))
            for day, idx in self._by_delivery_day(dc, epochs + self.overlap_seconds, self.rotate_hour):
                sel = np.asarray(sorted(set(idx.tolist()) - primary.get(day, set())), dtype=np.int64)
                if len(sel):
                    self._file(day, f"queue_log-{day:%Y%m%d}", epochs[sel], arr[sel].tolist())

    # -- asterisk CDR
    def _cdr(self, dc: DayCalls) -> None:
        epochs, lines = cdr_lines(dc)
        if self.folder is not None:
            self._file(dc.day, "Master.csv", epochs, lines)
            return
        arr = np.asarray(lines, dtype=object)
        for day, idx in self._by_delivery_day(dc, epochs, 0):
            self._file(day, "Master.csv", epochs[idx], arr[idx].tolist())

    # -- Amazon Connect CTR
    def _ctr(self, dc: DayCalls) -> None:
        epochs, lines = ctr_lines(dc)
        hours = epochs // 3600 * 3600
        arr = np.asarray(lines, dtype=object)
        for hour in np.unique(hours).tolist():
            idx = np.flatnonzero(hours == hour)
            stamp = dt.datetime.fromtimestamp(hour, dt.UTC) + dt.timedelta(minutes=5, seconds=hour % 53)
            name = f"callops-ctr-stream-1-{stamp:%Y-%m-%d-%H-%M-%S}-{_uuid(dc.plan.seed, dc.plan.tenant.id, hour)}"
            day = dt.datetime.fromtimestamp(int(stamp.timestamp()), dc.plan.zone).date()
            self._file(day, name, epochs[idx], arr[idx].tolist())

    # -- callops contact CSV and agent states
    def _contact_csv(self, dc: DayCalls) -> None:
        name = f"contacts_{dc.day.isoformat()}.csv"
        self.headers[name] = ",".join(CONTACT_COLUMNS) + "\n"
        lines = contact_csv_lines(dc)
        ended = np.full(dc.contact_count, -1, dtype=np.int64)  # each contact's end: when its rows are written
        np.maximum.at(ended, dc.contact, dc.ended)
        self._file(dc.day, name, np.zeros(len(lines), dtype=np.int64), lines, ended[dc.contact])

    def _agent_states(self, dc: DayCalls) -> None:
        name = f"agent_states_{dc.day.isoformat()}.csv"
        self.headers[name] = ",".join(AGENT_STATE_CONTRACT.names) + "\n"
        lines = agent_state_lines(dc)
        self._file(dc.day, name, np.zeros(len(lines), dtype=np.int64), lines, np.asarray(dc.state_time, np.int64))


def write_telephony(dc: DayCalls, fmt: str, folder: Path) -> list[tuple[Path, int]]:
    """Write one simulated day in `fmt` into `folder` (one file; events past midnight included)."""
    writer = TelephonyWriter(fmt, folder=folder)
    writer.add(dc)
    return writer.close()


# --- renderers (pure: DayCalls -> (sort epochs, lines)) --------------------------------------------------

def queue_log_lines(dc: DayCalls) -> tuple[np.ndarray, list[str]]:
    """Every queue_log line of the day's calls and agents, unsorted, with the epoch of each."""
    callid = asterisk_ids(dc)
    seq = call_seq(dc)
    agents = dc.plan.roster.agent_ids
    ep: list[int] = []
    out: list[str] = []
    for s, (c, q, ent, oc, ans, end, agent, ring, noans, pos, xfer, no) in enumerate(
        zip(
            dc.contact.tolist(),
            dc.queue.tolist(),
            dc.entered.tolist(),
            dc.outcome.tolist(),
            dc.answered.tolist(),
            dc.ended.tolist(),
            dc.agent.tolist(),
            dc.ring.tolist(),
            dc.ring_no_answer.tolist(),
            dc.position.tolist(),
            dc.transferred.tolist(),
            dc.stint_no.tolist(),
        )
    ):
        if oc == O_IVR:
            continue
        cid, qn = callid[c], QUEUES[q]
        ep.append(ent)
        out.append(f"{ent}|{cid}|{qn}|NONE|ENTERQUEUE||{dc.caller[c]}|{pos}\n")
        if oc == O_ANSWERED:
            name = agents[agent]
            hold = ans - ent
            if noans:
                ep.append(ans - ring + 15)
                out.append(f"{ans - ring + 15}|{cid}|{qn}|{name}|RINGNOANSWER|{noans}\n")
            ep.append(ans)
            member = f"{ans - ring + (15 if noans else 0)}.{seq[c] + 500_000 + no}"
            out.append(f"{ans}|{cid}|{qn}|{name}|CONNECT|{hold}|{member}|{ring - (15 if noans else 0)}\n")
            ep.append(end)
            if xfer:
                out.append(
                    f"{end}|{cid}|{qn}|{name}|BLINDTRANSFER|{QUEUE_EXTENSION[QUEUES[TRANSFER_TARGET[q]]]}"
                    f"|from-internal-xfer|{hold}|{end - ans}|{pos}\n"
                )
            else:
                verb = "COMPLETEAGENT" if (c * 7 + s) % 3 == 0 else "COMPLETECALLER"
                out.append(f"{end}|{cid}|{qn}|{name}|{verb}|{hold}|{end - ans}|{pos}\n")
        else:
            verb = "ABANDON" if oc == O_ABANDONED else "EXITWITHTIMEOUT"
            ep.append(end)
            out.append(f"{end}|{cid}|{qn}|NONE|{verb}|{max(1, min(pos, 3))}|{pos}|{end - ent}\n")
    # agent sessions: ADDMEMBER/REMOVEMEMBER on each queue of the pool, PAUSEALL/UNPAUSEALL with the reason
    paused: dict[int, str] = {}
    for t, a, st, reason, pool in zip(
        dc.state_time.tolist(), dc.state_agent.tolist(), dc.state.tolist(), dc.state_reason.tolist(),
        dc.state_queue_pool.tolist(),
    ):
        name = agents[a]
        if st == S_LOGIN:
            for q in POOL_QUEUES[pool]:
                ep.append(t)
                out.append(f"{t}|MANAGER|{QUEUES[q]}|{name}|ADDMEMBER|\n")
        elif st == S_PAUSED:
            paused[a] = PAUSE_REASONS[reason]
            ep.append(t)
            out.append(f"{t}|NONE|NONE|{name}|PAUSEALL|{PAUSE_REASONS[reason]}\n")
        elif st == S_READY and a in paused:
            paused.pop(a)
            ep.append(t)
            out.append(f"{t}|NONE|NONE|{name}|UNPAUSEALL|\n")
        elif st == S_LOGOUT:
            for q in POOL_QUEUES[pool]:
                ep.append(t)
                out.append(f"{t}|MANAGER|{QUEUES[q]}|{name}|REMOVEMEMBER|\n")
    return np.asarray(ep, dtype=np.int64), out


def _q(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _legs(dc: DayCalls) -> list[tuple[int, int, list[int]]]:
    """Contacts split into legs: (contact, leg number, stint indices). A transfer starts a new leg."""
    legs: list[tuple[int, int, list[int]]] = []
    cur: list[int] = []
    prev_c, leg = -1, 0
    contact, transferred = dc.contact.tolist(), dc.transferred.tolist()
    for s, c in enumerate(contact):
        if c != prev_c:
            if cur:
                legs.append((prev_c, leg, cur))
            cur, leg, prev_c = [s], 0, c
        elif transferred[s - 1]:
            legs.append((c, leg, cur))
            cur, leg = [s], leg + 1
        else:
            cur.append(s)
    if cur:
        legs.append((prev_c, leg, cur))
    return legs


def cdr_lines(dc: DayCalls) -> tuple[np.ndarray, list[str]]:
    """Master.csv lines (one per contact leg), keyed by the end epoch."""
    zone = dc.plan.zone
    uid = asterisk_ids(dc)
    agents = dc.plan.roster.agent_ids
    legs = _legs(dc)
    first = [stints[0] for _, _, stints in legs]
    last = [stints[-1] for _, _, stints in legs]
    answered_stint = [next((s for s in stints if dc.outcome[s] == O_ANSWERED), -1) for _, _, stints in legs]
    start = np.array(
        [dc.arrival[c] if leg == 0 else dc.entered[f] for (c, leg, _), f in zip(legs, first)], dtype=np.int64
    )
    answer = np.array([dc.answered[a] if a >= 0 else -1 for a in answered_stint], dtype=np.int64)
    end = np.array([dc.ended[s] for s in last], dtype=np.int64)
    start_s, answer_s, end_s = (local_strings(x, zone) for x in (start, answer, end))
    lines: list[str] = []
    for k, ((c, leg, _), a, lst) in enumerate(zip(legs, answered_stint, last)):
        caller = dc.caller[c]
        q = dc.queue[lst]
        chan = f"PJSIP/trunk-{(c * 2 + 1) & 0xFFFFFFF:08x}"
        if q < 0:  # IVR-contained
            app, data, dstchan, disp = "BackGround", "custom/main-menu", "", "ANSWERED"
            ans_s, billsec = start_s[k], int(end[k] - start[k])
        else:
            app, data = "Queue", f"{QUEUES[q]},t,,,{120 if QUEUES[q] == 'billing' else 0}"
            if a >= 0:
                dstchan = f"PJSIP/{agents[dc.agent[a]]}-{(c * 2 + 2 + leg) & 0xFFFFFFF:08x}"
                disp, ans_s, billsec = "ANSWERED", answer_s[k], int(end[k] - answer[k])
            else:
                dstchan, disp, ans_s, billsec = "", "NO ANSWER", "", 0
        clid = f'"{caller}" <{caller}>' if caller else '"Anonymous" <anonymous>'
        fields = [
            _q(""), _q(caller or "anonymous"), _q("4000"), _q("from-pstn"), _q(clid), _q(chan), _q(dstchan),
            _q(app), _q(data), _q(start_s[k]), _q(ans_s) if ans_s else "", _q(end_s[k]),
            str(int(end[k] - start[k])), str(billsec), _q(disp), _q("DOCUMENTATION"), _q(uid[c]), _q(""),
            _q(""), _q(uid[c]), str(dc.contact[lst] * 4 + leg),
        ]
        lines.append(",".join(fields) + "\n")
    return end, lines


def ctr_lines(dc: DayCalls) -> tuple[np.ndarray, list[str]]:
    """CTR JSON lines (one per contact leg, plus at-least-once repeats), keyed by delivery epoch.

    Rendered from string templates (every value is an id, a number or a timestamp: nothing to escape),
    keys in the alphabetical order Connect's own export uses.
    """
    p = dc.plan
    rng = np.random.default_rng([p.seed & 0xFFFFFFFF, zlib.crc32(p.tenant.id.encode()), dc.day.toordinal(), 77])
    ids = {0: ctr_ids(dc, 0), 1: ctr_ids(dc, 1), 2: ctr_ids(dc, 2)}
    agents = p.roster.agent_ids
    instance_arn = f"arn:aws:connect:eu-west-1:{AWS_ACCOUNT}:instance/{_uuid('instance', p.tenant.id)}"
    queue_arn = {q: f"{instance_arn}/queue/{_uuid('queue', p.tenant.id, q)}" for q in QUEUES}
    agent_arn = {}
    legs = _legs(dc)
    n = len(legs)
    init = np.empty(n, np.int64)
    disc = np.empty(n, np.int64)
    upd = np.empty(n, np.int64)
    outcome, ended, acw = dc.outcome.tolist(), dc.ended.tolist(), dc.acw.tolist()
    for k, (c, leg, stints) in enumerate(legs):
        last = stints[-1]
        init[k] = dc.arrival[c] if leg == 0 else dc.entered[stints[0]]
        disc[k] = ended[last]
        upd[k] = ended[last] + (acw[last] if outcome[last] == O_ANSWERED else 0)
    upd = upd + rng.integers(2, 40, n)
    later = upd + rng.integers(3600, 4 * 3600, n)
    every = np.concatenate([init, disc, upd, later, dc.entered, dc.answered, dc.ended, dc.ended + dc.acw])
    uniq = np.unique(every[every >= 0])
    ts = dict(zip(uniq.tolist(), utc_strings(uniq)))
    repeat = rng.random(n).tolist()
    entered, answered = dc.entered.tolist(), dc.answered.tolist()
    queue, agent, talk, hold = dc.queue.tolist(), dc.agent.tolist(), dc.talk.tolist(), dc.hold.tolist()
    noans, xfer, vip = dc.ring_no_answer.tolist(), dc.transferred.tolist(), dc.is_vip.tolist()
    head = f'{{"AWSAccountId":"{AWS_ACCOUNT}","AWSContactTraceRecordFormatVersion":"2017-03-10","Agent":'
    system = '"SystemEndpoint":{"Address":"+442035550100","Type":"TELEPHONE_NUMBER"}'
    epochs: list[int] = []
    lines: list[str] = []
    for k, (c, leg, stints) in enumerate(legs):
        last = stints[-1]
        q, oc = queue[last], outcome[last]
        caller = dc.caller[c]
        reason = "CUSTOMER_DISCONNECT"
        next_id = transfer_ts = transfer_to = "null"
        attempts = 0
        if oc == O_ANSWERED:
            a = agent[last]
            if a not in agent_arn:
                agent_arn[a] = f"{instance_arn}/agent/{_uuid('agent', p.tenant.id, agents[a])}"
            ans, end, hd, wrap = answered[last], ended[last], hold[last], acw[last]
            attempts = 2 if noans[last] else 1
            agent_json = (
                f'{{"ARN":"{agent_arn[a]}","AfterContactWorkDuration":{wrap},'
                f'"AfterContactWorkEndTimestamp":"{ts[end + wrap]}","AfterContactWorkStartTimestamp":"{ts[end]}",'
                f'"AgentInteractionDuration":{talk[last]},"ConnectedToAgentTimestamp":"{ts[ans]}",'
                f'"CustomerHoldDuration":{hd},"LongestHoldDuration":{hd},"NumberOfHolds":{1 if hd else 0},'
                f'"RoutingProfile":{{"ARN":"{instance_arn}/routing-profile/{QUEUES[q]}","Name":"{QUEUES[q]}"}},'
                f'"Username":"{agents[a]}"}}'
            )
            if xfer[last]:
                reason = "AGENT_DISCONNECT"
                next_id = f'"{ids[leg + 1][c]}"'
                transfer_ts = f'"{ts[end]}"'
                transfer_to = f'{{"Address":"{queue_arn[QUEUES[TRANSFER_TARGET[q]]]}","Type":"QUEUE"}}'
            elif (c + leg) % 4 == 0:
                reason = "AGENT_DISCONNECT"
            deq = ans
        else:
            agent_json = "null"
            deq = ended[last]
            if q < 0 or oc in (O_OVERFLOW, O_TIMEOUT):
                reason = "CONTACT_FLOW_DISCONNECT"
        if q >= 0:
            enq = entered[stints[0]]
            queue_json = (
                f'{{"ARN":"{queue_arn[QUEUES[q]]}","DequeueTimestamp":"{ts[deq]}","Duration":{deq - enq},'
                f'"EnqueueTimestamp":"{ts[enq]}","Name":"{QUEUES[q]}"}}'
            )
        else:
            queue_json = "null"
        endpoint = f'{{"Address":"{caller}","Type":"TELEPHONE_NUMBER"}}' if caller else "null"
        start = ts[int(init[k])]
        initial = f'"{ids[0][c]}"' if leg else "null"
        previous = f'"{ids[leg - 1][c]}"' if leg else "null"
        body = (
            f'"AgentConnectionAttempts":{attempts},"Attributes":{{"segment":"{"vip" if vip[c] else "standard"}"'
        )
        tail = (
            f'"Channel":"VOICE","ConnectedToSystemTimestamp":"{start}","ContactId":"{ids[leg][c]}",'
            f'"CustomerEndpoint":{endpoint},"DisconnectReason":"{reason}",'
            f'"DisconnectTimestamp":"{ts[int(disc[k])]}",'
            f'"InitialContactId":{initial},'
            f'"InitiationMethod":"{"TRANSFER" if leg else "INBOUND"}","InitiationTimestamp":"{start}",'
            f'"InstanceARN":"{instance_arn}",'
        )
        rest = (
            f'"NextContactId":{next_id},"PreviousContactId":{previous},'
            f'"Queue":{queue_json},{system},"TransferCompletedTimestamp":{transfer_ts},'
            f'"TransferredToEndpoint":{transfer_to}}}\n'
        )
        line = f'{head}{agent_json},{body}}},{tail}"LastUpdateTimestamp":"{ts[int(upd[k])]}",{rest}'
        epochs.append(int(upd[k]))
        lines.append(line)
        if repeat[k] < 0.01:  # delivered twice, same content
            epochs.append(int(upd[k]) + 1)
            lines.append(line)
        elif repeat[k] < 0.03:  # updated later (a contact attribute set after the call)
            epochs.append(int(later[k]))
            lines.append(
                f'{head}{agent_json},{body},"wrapup":"reviewed"}},{tail}'
                f'"LastUpdateTimestamp":"{ts[int(later[k])]}",{rest}'
            )
    return np.asarray(epochs, dtype=np.int64), lines


def contact_csv_lines(dc: DayCalls) -> list[str]:
    """Rows of the callops contact CSV (contract column order), one per stint."""
    zone = dc.plan.zone
    ids = csv_ids(dc)
    agents = dc.plan.roster.agent_ids
    entered = local_strings(dc.entered, zone, sep="T", offset=True)
    answered = local_strings(dc.answered, zone, sep="T", offset=True)
    ended = local_strings(dc.ended, zone, sep="T", offset=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    position = {name: i for i, name in enumerate(CONTACT_COLUMNS)}
    rows = []
    for s, (c, q, oc, ans, ent, end, talk, hold, acw, agent, xfer) in enumerate(
        zip(
            dc.contact.tolist(), dc.queue.tolist(), dc.outcome.tolist(), dc.answered.tolist(),
            dc.entered.tolist(), dc.ended.tolist(), dc.talk.tolist(), dc.hold.tolist(), dc.acw.tolist(),
            dc.agent.tolist(), dc.transferred.tolist(),
        )
    ):
        values = {
            "contact_id": ids[c],
            "queue_id": QUEUES[q] if q >= 0 else "",
            "entered_at": entered[s],
            "outcome": OUTCOMES[oc],
            "direction": "inbound",
            "answered_at": answered[s],
            "ended_at": ended[s],
            "wait_seconds": "" if oc == O_IVR else (ans - ent if oc == O_ANSWERED else end - ent),
            "talk_seconds": talk if oc == O_ANSWERED else "",
            "hold_seconds": hold if oc == O_ANSWERED else "",
            "after_call_work_seconds": acw if oc == O_ANSWERED else "",
            "agent_id": agents[agent] if agent >= 0 else "",
            "caller_number": dc.caller[c],
            "segment": "vip" if dc.is_vip[c] else "standard",
            "is_transferred": ("true" if xfer else "false") if oc == O_ANSWERED else "",
        }
        row = [""] * len(CONTACT_COLUMNS)
        for key, value in values.items():
            if key in position:
                row[position[key]] = value
        rows.append(row)
    writer.writerows(rows)
    return buffer.getvalue().splitlines(keepends=True)


def agent_state_lines(dc: DayCalls) -> list[str]:
    """Rows of the callops agent-state CSV (contract column order)."""
    names = AGENT_STATE_CONTRACT.names
    agents = dc.plan.roster.agent_ids
    stamps = local_strings(dc.state_time, dc.plan.zone, sep="T", offset=True)
    out = []
    for stamp, a, st, reason in zip(stamps, dc.state_agent.tolist(), dc.state.tolist(), dc.state_reason.tolist()):
        values = {
            "agent_id": agents[a],
            "state": STATES[st],
            "event_at": stamp,
            "queue_id": "",
            "reason": PAUSE_REASONS[reason] if st == S_PAUSED else "",
        }
        out.append(",".join(str(values.get(name, "")) for name in names) + "\n")
    return out
