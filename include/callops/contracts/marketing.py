"""The marketing feed's CSV contracts (docs/formats.md "Feed contracts: QA, HR and marketing CSV").

Modelled on CRM / campaign-tool exports: campaigns with their unit value and
costs (commission 酬金, staff time), and one row per in-call offer with the
funnel the seeds describe: pop-up shown (弹窗), offer made (推荐), accepted.
Each is detected by its header and loaded by the CSV contract engine into its
own raw table.
"""

from __future__ import annotations

from callops.contracts.csv import Column, Contract

DIRECTIONS = ("inbound", "outbound")

CAMPAIGNS = Contract(
    format="callops_marketing_campaign_csv",
    feed="marketing",
    table="marketing_campaigns",
    description="callops marketing campaign CSV (one row per campaign)",
    columns=(
        Column("campaign_id", required=True, not_null=True),
        Column("campaign_name", required=True, not_null=True),
        Column("starts_on", "date", required=True, not_null=True),
        Column("ends_on", "date", description="Last day of the campaign; empty while open-ended."),
        Column("product", description="Product or offer sold."),
        Column("direction", "enum", values=DIRECTIONS, default="inbound",
               description="inbound (cross-selling in service calls) or outbound (外呼)."),
        Column("target_segment", description="Customer segment targeted, e.g. vip."),
        Column("currency", description="ISO 4217 code of the money columns."),
        Column("unit_value", "number", minimum=0, description="Revenue (value) of one sale."),
        Column("commission_per_sale", "number", minimum=0, description="Commission (酬金) paid per sale."),
        Column("agent_cost_per_hour", "number", minimum=0, description="Staff cost of an hour of pitching."),
        Column("fixed_cost", "number", minimum=0, description="Campaign cost independent of sales."),
        Column("business_weight", "number", minimum=0, description="Business importance weight (seed 003)."),
    ),
    rules=(("ends_on < starts_on", "'ends_on ' || ends_on_raw || ' is before starts_on ' || starts_on_raw"),),
)

OFFERS = Contract(
    format="callops_marketing_offer_csv",
    feed="marketing",
    table="marketing_offers",
    description="callops in-call offer CSV (one row per offer presented during a contact)",
    columns=(
        Column("offer_id", required=True, not_null=True),
        Column("campaign_id", required=True, not_null=True),
        Column("contact_id", required=True, description="Contact the offer was made in (joins telephony)."),
        Column("offered_at", "timestamp", required=True, not_null=True, description="When the pop-up appeared."),
        Column("is_shown", "boolean", required=True, not_null=True, description="The pop-up (弹窗) was shown."),
        Column("is_pitched", "boolean", required=True, not_null=True, description="The agent made the offer (推荐)."),
        Column("is_accepted", "boolean", required=True, not_null=True, description="The customer accepted."),
        Column("agent_id"),
        Column("customer_id", "personal", description="Customer id in the client's CRM (hashed)."),
        Column("decline_reason"),
        Column("revenue", "number", minimum=0, description="Revenue booked for an accepted offer."),
        Column("commission", "number", minimum=0, description="Commission (酬金) for an accepted offer."),
        Column("pitch_seconds", "seconds", minimum=0, description="Agent time spent on the offer."),
    ),
    rules=(
        ("is_accepted and not is_pitched", "'is_accepted is true but is_pitched is false'"),
        ("is_pitched and not is_shown", "'is_pitched is true but is_shown is false'"),
        ("revenue > 0 and not is_accepted", "'revenue ' || revenue_raw || ' on an offer that was not accepted'"),
    ),
)

CONTRACTS = (CAMPAIGNS, OFFERS)
