"""callops' deferrable sensors: they check once in a worker, then wait in the triggerer.

- :class:`DeliverySensor`: a scheduled load's wait for one tenant's feed folder of the run's delivery
  day; fails naming tenant, feed, day and folder when nothing arrived by the tenant's publish deadline
  (and what the tenant folder holds instead that is not a day folder).
- :class:`LandingSensor`: the landing watch's wait for any file not tried yet, anywhere in the landing
  zone; skips (nothing to load) after ``quiet_after``. When it wakes it logs what the landing zone
  holds that is not a delivery (``callops.landing``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

from callops import scheduling, settings
from callops.landing import skipped_lines, tenant_skips
from callops.triggers import DeliveryTrigger, LandingTrigger

# The trigger enforces the wait itself (and says what was missing); Airflow's own deferral timeout
# is a backstop a little later.
BACKSTOP = dt.timedelta(minutes=5)


class DeliverySensor(BaseSensorOperator):
    """Waits (deferred) until ``landing/<feed>/<tenant>/<delivery day>/`` holds a settled file."""

    ui_color = "#d8ecf3"

    def __init__(self, *, plan: scheduling.LoadPlan, poll_seconds: float | None = None, **kwargs: Any) -> None:
        poll = settings.landing_poll_seconds() if poll_seconds is None else poll_seconds
        wait = scheduling.WAIT_WITHOUT_DEADLINE + dt.timedelta(days=1)
        super().__init__(poke_interval=poll, timeout=wait.total_seconds(), **kwargs)
        self.deferrable = True
        self.feed = plan.feed
        self.tenant_id = plan.tenant_id
        self.plan = plan

    def execute(self, context: Any) -> list[str]:
        day = scheduling.delivery_day(context, self.plan.timezone)
        folder = self.plan.folder(day)
        files = scheduling.settled(self.plan.files(day), self.poke_interval)
        if files:
            return [f.display for f in files]
        now = dt.datetime.now(dt.UTC)
        until = self.plan.wait_until(day, now)
        self.log.info("waiting for landing/%s/%s/%s/ until %s", self.feed, self.tenant_id, day, until)
        self.defer(
            trigger=DeliveryTrigger(
                folder=str(folder),
                feed=self.feed,
                tenant_id=self.tenant_id,
                day=day.isoformat(),
                wait_until=until.timestamp(),
                poll_seconds=self.poke_interval,
                settle_seconds=self.poke_interval,
            ),
            method_name="execute_complete",
            kwargs={"day": day.isoformat(), "until": until.isoformat()},
            timeout=until - now + BACKSTOP,
        )

    def execute_complete(self, context: Any, event: dict, day: str, until: str) -> list[str]:
        if event.get("status") == "arrived":
            return list(event["files"])
        local = dt.datetime.fromisoformat(until).astimezone(ZoneInfo(self.plan.timezone))
        # what the tenant's folder holds instead (a delivery put in 20260302/ is not in 2026-03-02/)
        where = f"landing/{self.feed}/{self.tenant_id}/"
        skipped = skipped_lines(tenant_skips(self.feed, self.tenant_id, dt.date.fromisoformat(day)))
        raise AirflowSensorTimeout(
            f"no {self.feed} delivery from tenant {self.tenant_id} for delivery day {day}: nothing arrived in "
            f"{where}{day}/ by {local:%Y-%m-%d %H:%M} {self.plan.timezone} (check delivery_arrived)"
            + (f"; skipped in {where}: " + "; ".join(skipped) if skipped else "")
        )


class LandingSensor(BaseSensorOperator):
    """Waits (deferred) until the landing zone holds a settled file whose content was not tried yet."""

    ui_color = "#d8ecf3"

    def __init__(self, *, quiet_after: dt.timedelta, poll_seconds: float | None = None, **kwargs: Any) -> None:
        poll = settings.landing_poll_seconds() if poll_seconds is None else poll_seconds
        super().__init__(poke_interval=poll, timeout=quiet_after.total_seconds(), soft_fail=True, **kwargs)
        self.deferrable = True
        self.quiet_after = quiet_after

    def execute(self, context: Any) -> dict:
        files = scheduling.pending_files(settle_seconds=self.poke_interval)
        if files:
            return {
                "count": len(files),
                "feeds": sorted({f.feed for f in files}),
                "files": [f.display for f in files[:20]],
                "skipped": self._skipped(),
            }
        now = dt.datetime.now(dt.UTC)
        self.defer(
            trigger=LandingTrigger(
                landing=str(settings.landing_dir()),
                index=str(settings.landing_index_path()),
                wait_until=(now + self.quiet_after).timestamp(),
                poll_seconds=self.poke_interval,
                settle_seconds=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=self.quiet_after + BACKSTOP,
        )

    def execute_complete(self, context: Any, event: dict) -> dict:
        if event.get("status") != "new":
            raise AirflowSkipException(f"nothing new in the landing zone for {self.quiet_after}")
        return {key: event[key] for key in ("count", "feeds", "files")} | {"skipped": self._skipped()}

    def _skipped(self) -> list[str]:
        """What the landing zone holds that is not a delivery, logged when the watch wakes (each feed's
        load records its own; an unknown feed folder or a file at the root is said only here)."""
        return scheduling.log_skips(scheduling.landing_skips(), "the landing zone")
