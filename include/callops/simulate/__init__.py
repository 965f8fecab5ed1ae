"""``callops simulate``: a contact-center simulator writing deliveries in the real telephony formats.

See :mod:`callops.simulate.model` (arrivals, schedules, the queue), :mod:`callops.simulate.writers`
(one writer per telephony format), :mod:`callops.simulate.feeds` (agent states, QA, HR, marketing),
:mod:`callops.simulate.run` (the command) and :mod:`callops.simulate.calibration` (the real month).
"""

from callops.simulate.model import DayCalls, Params, TenantPlan, plan_tenant, simulate_day

__all__ = ["DayCalls", "Params", "TenantPlan", "plan_tenant", "simulate_day"]
