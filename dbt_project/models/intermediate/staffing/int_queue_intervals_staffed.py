"""One row per tenant x queue x staffing interval: int_erlang_inputs_assembled with the agents it needs.

The agents come from callops.staffing, the same code analysts call in Python, so the warehouse and
the library agree exactly:
- erlang_c_agents: smallest N with Erlang C SL(service_level_seconds) >= service_level_target;
- erlang_a_agents: the same with abandonment (Erlang A), caller patience = staffing_patience_seconds;
- required_agents_with_shrinkage: erlang_c_agents grossed up, ceil(N / (1 - staffing_shrinkage_rate));
- reforecast_erlang_c_agents, reforecast_erlang_a_agents: the same from the reforecast calls and AHT of an
  interval not complete yet (int_queue_intervals_reforecast).
Null (NaN) where an input is missing (no AHT, no patience, no reforecast).
"""

from callops import staffing


def model(dbt, session):
    dbt.config(materialized="table")
    inputs = dbt.ref("int_erlang_inputs_assembled")
    frame = inputs.df()
    calls = frame["staffing_calls"]
    interval = frame["interval_seconds"]
    aht = frame["staffing_aht_seconds"]
    target = frame["service_level_target"]
    within = frame["service_level_seconds"]
    frame["erlang_c_agents"] = staffing.erlang_c_agents(calls, interval, aht, target, within)
    frame["erlang_a_agents"] = staffing.erlang_a_agents(
        calls, interval, aht, frame["staffing_patience_seconds"], target, within
    )
    frame["required_agents_with_shrinkage"] = staffing.scheduled_agents(
        frame["erlang_c_agents"], frame["staffing_shrinkage_rate"]
    )
    calls, aht = frame["reforecast_calls"], frame["reforecast_aht_seconds"]
    frame["reforecast_erlang_c_agents"] = staffing.erlang_c_agents(calls, interval, aht, target, within)
    frame["reforecast_erlang_a_agents"] = staffing.erlang_a_agents(
        calls, interval, aht, frame["staffing_patience_seconds"], target, within
    )
    # Keep the inputs' column types (an empty frame would otherwise give untyped columns).
    session.register("int_queue_intervals_staffed_frame", frame)
    typed = ", ".join(f'cast("{name}" as {kind}) as "{name}"' for name, kind in zip(inputs.columns, inputs.types))
    agents = ", ".join(
        f"cast({name} as double) as {name}"
        for name in (
            "erlang_c_agents",
            "erlang_a_agents",
            "required_agents_with_shrinkage",
            "reforecast_erlang_c_agents",
            "reforecast_erlang_a_agents",
        )
    )
    return session.sql(f"select {typed}, {agents} from int_queue_intervals_staffed_frame")
