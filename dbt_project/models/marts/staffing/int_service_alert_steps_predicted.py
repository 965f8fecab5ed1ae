"""One row per service-alert episode x step of the dispatch ladder (0: the queue as it is, 1-6: the ladder): its
key in int_service_alert_steps_assembled and the service level predicted for the next interval after the step
and the steps before it (service_level_after).

The figure comes from callops.staffing.predicted_service_level, the same code analysts call in Python:
Erlang A where the queue has an observed patience, else Erlang C; 0 where the queue cannot keep up;
null (NaN) where the next interval's calls or AHT are unknown.

Lives beside the marts it follows (path models/marts: the build's marts layer) in the private schema
intermediate: never published.
"""

from callops import staffing

KEY = ("tenant_id", "queue_id", "interval_start_at", "step")


def model(dbt, session):
    dbt.config(materialized="table", schema="intermediate")
    inputs = dbt.ref("int_service_alert_steps_assembled")
    frame = inputs.df()
    frame["service_level_after"] = staffing.predicted_service_level(
        frame["ladder_agents"],
        frame["ladder_calls"],
        frame["interval_seconds"],
        frame["ladder_aht_seconds"],
        frame["patience_seconds"],
        frame["service_level_seconds"],
    )
    # The episode-and-step key in the inputs' column types (an empty frame would otherwise give untyped columns).
    session.register("int_service_alert_steps_predicted_frame", frame)
    key = ", ".join(
        f'cast("{name}" as {kind}) as "{name}"' for name, kind in zip(inputs.columns, inputs.types) if name in KEY
    )
    return session.sql(
        f"select {key}, cast(service_level_after as double) as service_level_after "
        "from int_service_alert_steps_predicted_frame"
    )
