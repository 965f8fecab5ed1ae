"""The HR feed's CSV contracts (docs/formats.md "Feed contracts: QA, HR and marketing CSV").

Modelled on HRIS roster exports and workforce-management scheduling tables
(Amazon Connect ``staff_shifts`` / ``staff_shift_activities`` /
``staff_timeoffs``): the roster (usually a full snapshot per delivery), the
schedule (one row per scheduled activity), attendance and absence (one row
per agent per work day), training and certification. Each is detected by its
header and loaded by the CSV contract engine into its own raw table.
"""

from __future__ import annotations

import math

from callops.contracts.csv import MAX_DURATION_SECONDS, Column, Contract

EMPLOYMENT_TYPES = ("full_time", "part_time", "dispatched", "contractor", "intern")
TERMINATION_TYPES = ("voluntary", "involuntary", "end_of_contract", "other")
ACTIVITIES = ("work", "break", "lunch", "training", "meeting", "coaching", "offline", "time_off", "other")
ATTENDANCE_STATUSES = ("present", "late", "left_early", "absent", "leave", "sick", "day_off")

ROSTER = Contract(
    format="callops_hr_roster_csv",
    feed="hr",
    table="hr_roster",
    description="callops HR roster CSV (one row per agent; usually a full snapshot)",
    columns=(
        Column("agent_id", required=True, not_null=True, description="Agent login in the ACD (joins telephony)."),
        Column("team_id", required=True, description="Team (班组) the agent belongs to."),
        Column("employment_type", "enum", required=True, not_null=True, values=EMPLOYMENT_TYPES),
        Column("hire_date", "date", required=True, not_null=True),
        Column("termination_date", "date", description="Last day employed; empty while employed."),
        Column("employee_id", "personal", description="HR employee number (hashed)."),
        Column("employee_name", "personal", description="Agent's name (hashed)."),
        Column("team_name"),
        Column("supervisor_id", description="Team lead (班长/主管), as an agent_id."),
        Column("site", description="Site or centre the agent works at."),
        Column("role", description="agent, team_lead, qa, trainer..."),
        Column("skills", "list", description="Skills (queues) the agent takes, separated by ; or |."),
        Column("vendor", description="Labour-dispatch agency or contractor company."),
        Column("termination_type", "enum", values=TERMINATION_TYPES),
        Column("termination_reason"),
        Column("contracted_hours_per_week", "number", minimum=0, maximum=168),
        Column("cost_per_hour", "number", minimum=0, description="Loaded staff cost per paid hour."),
    ),
    rules=(
        (
            "termination_date < hire_date",
            "'termination_date ' || termination_date_raw || ' is before hire_date ' || hire_date_raw",
        ),
        (
            "termination_date is null and (termination_type is not null or termination_reason is not null)",
            "'termination_type or termination_reason given without termination_date'",
        ),
    ),
)

SHIFTS = Contract(
    format="callops_hr_shift_csv",
    feed="hr",
    table="hr_shifts",
    description="callops HR schedule CSV (one row per scheduled activity of an agent's shift)",
    columns=(
        Column("agent_id", required=True, not_null=True),
        Column("shift_date", "date", required=True, not_null=True, description="Local day the shift belongs to."),
        Column("activity", "enum", required=True, not_null=True, values=ACTIVITIES),
        Column("starts_at", "timestamp", required=True, not_null=True),
        Column("ends_at", "timestamp", required=True, not_null=True),
        Column("shift_id", description="Shift identifier in the scheduling tool."),
        Column("queue_id", description="Queue (skill) the agent is scheduled on, for work activities."),
        Column("activity_name", description="The tool's own name for the activity."),
        Column("is_paid", "boolean", description="The activity is paid time (lunch usually is not)."),
    ),
    rules=(
        ("ends_at <= starts_at", "'ends_at ' || ends_at_raw || ' is not after starts_at ' || starts_at_raw"),
        ("ends_at > starts_at + interval 24 hour", "'the activity lasts more than 24 hours'"),
    ),
)

ATTENDANCE = Contract(
    format="callops_hr_attendance_csv",
    feed="hr",
    table="hr_attendance",
    description="callops HR attendance CSV (one row per agent per work day)",
    columns=(
        Column("agent_id", required=True, not_null=True),
        Column("work_date", "date", required=True, not_null=True),
        Column("status", "enum", required=True, not_null=True, values=ATTENDANCE_STATUSES),
        Column("absence_reason", description="Reason of an absence or leave, as the HR system words it."),
        Column("is_planned", "boolean", description="The absence was approved in advance (planned leave)."),
        Column("absence_seconds", "seconds", minimum=0, description="Scheduled time missed."),
        Column("clock_in_at", "timestamp"),
        Column("clock_out_at", "timestamp"),
    ),
    rules=(
        (
            "clock_out_at < clock_in_at",
            "'clock_out_at ' || clock_out_at_raw || ' is before clock_in_at ' || clock_in_at_raw",
        ),
        (
            "status in ('absent', 'day_off') and clock_in_at is not null",
            "'an agent who is ' || status || ' has no clock_in_at'",
        ),
    ),
)

TRAINING = Contract(
    format="callops_hr_training_csv",
    feed="hr",
    table="hr_training",
    description="callops HR training CSV (one row per agent per course attempt)",
    columns=(
        Column("agent_id", required=True, not_null=True),
        Column("course_id", required=True, not_null=True),
        Column("started_on", "date", required=True, not_null=True),
        Column("course_name"),
        Column("course_type", description="onboarding (新员工), product, skill, compliance..."),
        Column("completed_on", "date", description="Empty while in progress."),
        Column("is_passed", "boolean", description="Passed the course's assessment; empty when not assessed yet."),
        Column("score", "number", minimum=0),
        # An attempt can span weeks: at most 24 hours a day from started_on (rule below), not 24 hours in all.
        Column("training_seconds", "seconds", minimum=0, maximum=math.inf, description="Time spent in training."),
        Column("certification", description="Certificate earned, if any."),
        Column("certified_until", "date", description="Certificate expiry."),
    ),
    rules=(
        (
            "completed_on < started_on",
            "'completed_on ' || completed_on_raw || ' is before started_on ' || started_on_raw",
        ),
        ("is_passed is not null and completed_on is null", "'is_passed is given without completed_on'"),
        ("certified_until < started_on", "'certified_until is before started_on'"),
        (
            f"training_seconds > {MAX_DURATION_SECONDS} * "
            "(date_diff('day', started_on, coalesce(completed_on, $delivery_date::date)) + 1)",
            "'training_seconds is above 24 hours a day from started_on to completed_on (or the delivery day): '"
            " || training_seconds_raw",
        ),
    ),
)

CONTRACTS = (ROSTER, SHIFTS, ATTENDANCE, TRAINING)
