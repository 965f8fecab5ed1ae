"""The QA feed's CSV contracts (docs/formats.md "Feed contracts: QA, HR and marketing CSV").

QA tools have no standard wire format; these contracts follow what they
export (modelled on Amazon Connect's ``contact_evaluation_record``):
one row per evaluation per criterion, one row per calibration score, one row
per CSAT survey. Each is detected by its header and loaded by the CSV contract
engine (:mod:`callops.load.csv_contract`) into its own raw table.
"""

from __future__ import annotations

from callops.contracts.csv import Column, Contract

EVALUATION_STATUSES = ("submitted", "draft", "acknowledged", "disputed")

EVALUATIONS = Contract(
    format="callops_qa_evaluation_csv",
    feed="qa",
    table="qa_evaluations",
    description="callops QA evaluation CSV (one row per evaluation per criterion)",
    columns=(
        Column("evaluation_id", required=True, not_null=True, description="Evaluation identifier in the QA tool."),
        Column("contact_id", required=True, description="Evaluated contact (joins the telephony feed)."),
        Column("agent_id", required=True, not_null=True, description="Evaluated agent (ACD login)."),
        Column("form_id", required=True, not_null=True, description="Evaluation form (scorecard)."),
        Column("criterion_id", required=True, not_null=True, description="Criterion (question) of the form."),
        Column("score", "number", required=True, minimum=0, description="Points; empty only when not applicable."),
        Column("evaluated_at", "timestamp", required=True, not_null=True, description="Submitted (or last saved)."),
        Column("evaluator_id", description="QA evaluator (质检员); empty for automated evaluations."),
        Column("form_version", "integer", minimum=0),
        Column("section", description="Section of the form the criterion belongs to."),
        Column("criterion_name"),
        Column("answer", description="Answer chosen, e.g. yes / no / partially."),
        Column("max_score", "number", description="Points available for the criterion."),
        Column("weight", "number", minimum=0, description="Weight of the criterion in the evaluation score."),
        Column("is_fatal", "boolean", description="The criterion is a fatal (critical) one."),
        Column("is_auto_fail", "boolean", description="A fatal criterion failed: the evaluation scores 0."),
        Column("is_not_applicable", "boolean", description="The criterion was not applicable (left out of the score)."),
        Column("status", "enum", values=EVALUATION_STATUSES, default="submitted"),
    ),
    rules=(
        ("max_score <= 0", "'max_score is not above 0: ' || max_score_raw"),
        ("score > max_score", "'score ' || score_raw || ' is above max_score ' || max_score_raw"),
        (
            "score is null and not coalesce(is_not_applicable, false)",
            "'score is empty (only a not-applicable criterion has no score)'",
        ),
        ("is_auto_fail and is_fatal = false", "'is_auto_fail is true on a criterion that is not fatal'"),
    ),
)

CALIBRATIONS = Contract(
    format="callops_qa_calibration_csv",
    feed="qa",
    table="qa_calibrations",
    description="callops QA calibration CSV (one row per session per evaluator per criterion)",
    columns=(
        Column("calibration_id", required=True, not_null=True, description="Calibration session identifier."),
        Column("evaluator_id", required=True, description="Participant; empty only on the consensus row."),
        Column("criterion_id", required=True, not_null=True),
        Column("score", "number", required=True, minimum=0, description="Points; empty only when not applicable."),
        Column("calibrated_at", "timestamp", required=True, not_null=True, description="When the session was held."),
        Column("evaluation_id", description="Reference evaluation the session calibrates, if any."),
        Column("contact_id", description="Contact listened to in the session."),
        Column("agent_id", description="Agent of that contact."),
        Column("form_id"),
        Column("form_version", "integer", minimum=0),
        Column("criterion_name"),
        Column("max_score", "number"),
        Column("weight", "number", minimum=0),
        Column("is_auto_fail", "boolean", description="The participant failed a fatal criterion."),
        Column("is_not_applicable", "boolean"),
        Column("is_consensus", "boolean", description="The row is the session's agreed (consensus) score."),
    ),
    rules=(
        ("max_score <= 0", "'max_score is not above 0: ' || max_score_raw"),
        ("score > max_score", "'score ' || score_raw || ' is above max_score ' || max_score_raw"),
        (
            "score is null and not coalesce(is_not_applicable, false)",
            "'score is empty (only a not-applicable criterion has no score)'",
        ),
        (
            "evaluator_id is null and not coalesce(is_consensus, false)",
            "'evaluator_id is empty (only the consensus row has no evaluator)'",
        ),
    ),
)

CSAT_SURVEYS = Contract(
    format="callops_csat_survey_csv",
    feed="qa",
    table="csat_surveys",
    description="callops CSAT survey CSV (one row per answered survey)",
    columns=(
        Column("survey_id", required=True, not_null=True, description="Survey response identifier."),
        Column("contact_id", required=True, description="Contact the survey is about."),
        Column("answered_at", "timestamp", required=True, not_null=True, description="When the customer answered."),
        Column("score", "number", required=True, not_null=True, description="Satisfaction score given."),
        Column("scale_max", "number", required=True, not_null=True, description="Top of the scale (5 for 1-5)."),
        Column("scale_min", "number", description="Bottom of the scale; 1 when empty."),
        Column("agent_id"),
        Column("queue_id"),
        Column("channel", description="How the survey was taken: ivr, sms, web, app, email..."),
        Column("caller_number", "phone", description="Customer's number (hashed)."),
        Column("customer_id", "personal", description="Customer id in the client's CRM (hashed)."),
        Column("is_resolved", "boolean", description="The customer says the issue was resolved (reported FCR)."),
    ),
    rules=(
        (
            "scale_max <= coalesce(scale_min, 1)",
            "'scale_max ' || scale_max_raw || ' is not above scale_min ' || coalesce(scale_min_raw, '1')",
        ),
        (
            "score < coalesce(scale_min, 1) or score > scale_max",
            "'score ' || score_raw || ' is outside the scale ' || coalesce(scale_min_raw, '1') || '-' || scale_max_raw",
        ),
    ),
)

CONTRACTS = (EVALUATIONS, CALIBRATIONS, CSAT_SURVEYS)
