{#
    The KPI formulas, defined once (docs/domain.md "How each contact counts").
    Every rate is a 0-1 double; a zero denominator gives null, never 0 or an
    error. Each formula has a dbt unit test on hand-computed values
    (models/marts/executive/_executive__models.yml). Each KPI's definition, as
    dbt docs and the published column comments show it, is a doc block of
    models/_kpis__docs.md.
#}

{% macro safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as double) / nullif({{ denominator }}, 0))
{%- endmacro %}

{# answer rate (接通率) = answered / offered #}
{% macro answer_rate(answered, offered) -%}
    {{ safe_divide(answered, offered) }}
{%- endmacro %}

{# abandon rate (放弃率) = (abandoned - short abandoned) / (offered - short abandoned) #}
{% macro abandon_rate(abandoned, short_abandoned, offered) -%}
    {{ safe_divide(abandoned ~ ' - ' ~ short_abandoned, offered ~ ' - ' ~ short_abandoned) }}
{%- endmacro %}

{#
    Service level (服务水平) in the tenant's variant (callops.yml
    `service_level_variant`; docs/kpis.md "Service level" has the vendors' variants):
      exclude_short_abandons (default)     A_t / (O - Ab_s)
      abandons_within_threshold_positive   (A_t + Ab_t) / O
      ignore_abandons                      A_t / A
      all_abandons_negative                A_t / O
      exclude_abandons_within_threshold    A_t / (O - Ab_t)
#}
{% macro service_level_rate(
    variant,
    answered_within_sl,
    abandoned_within_sl,
    short_abandoned,
    answered,
    offered
) -%}
    case {{ variant }}
        when 'exclude_short_abandons'
            then {{ safe_divide(answered_within_sl, offered ~ ' - ' ~ short_abandoned) }}
        when 'abandons_within_threshold_positive'
            then {{ safe_divide(answered_within_sl ~ ' + ' ~ abandoned_within_sl, offered) }}
        when 'ignore_abandons'
            then {{ safe_divide(answered_within_sl, answered) }}
        when 'all_abandons_negative'
            then {{ safe_divide(answered_within_sl, offered) }}
        when 'exclude_abandons_within_threshold'
            then {{ safe_divide(answered_within_sl, offered ~ ' - ' ~ abandoned_within_sl) }}
    end
{%- endmacro %}

{#
    A VIP stint: the source says so (segment 'vip'), or it queued in a VIP
    queue (an id containing 'vip': formats without a segment route VIPs to
    their own queue). A contact is VIP when any of its stints is.
#}
{% macro is_vip_stint(segment, queue_id) -%}
    (
        coalesce(lower({{ segment }}) = 'vip', false)
        or coalesce(lower({{ queue_id }}) like '%vip%', false)
    )
{%- endmacro %}

{#
    Count of rows (among those where `among` holds) where a flag holds, or
    null when the flag is unknown (null) for any of them: a count over partly
    unknown data would be a guess. No rows to count gives 0.
#}
{% macro count_if_known(flag, among='true') -%}
    case
        when coalesce(bool_and(({{ flag }}) is not null) filter (where {{ among }}), true)
            then count(*) filter (where ({{ among }}) and ({{ flag }}))
    end
{%- endmacro %}

{#
    Sum of a value over the rows (among those where `among` holds), or null
    when it is unknown (null) for any of them, as count_if_known: a sum of
    the known part would be a guess. No rows to sum gives 0. Also how a
    period adds up its days' components (rpt_kpis_by_period): a day whose
    component is unknown makes the period's unknown.
#}
{% macro sum_if_known(value, among='true') -%}
    case
        when coalesce(bool_and(({{ value }}) is not null) filter (where {{ among }}), true)
            then coalesce(sum({{ value }}) filter (where {{ among }}), 0)
    end
{%- endmacro %}

{#
    The common service level, the same formula for every tenant so centers
    can be compared (rpt_tenant_benchmark ranks it): answered within 20 s /
    (offered - abandoned within 5 s), "within" as wait <= the seconds.
#}
{% macro common_service_level_rate(answered_within_20s, abandoned_within_5s, offered) -%}
    {{ safe_divide(answered_within_20s, offered ~ ' - ' ~ abandoned_within_5s) }}
{%- endmacro %}

{# average speed of answer = queue wait of the answered contacts / answered contacts #}
{% macro asa_seconds(answered_wait_seconds, answered) -%}
    {{ safe_divide(answered_wait_seconds, answered) }}
{%- endmacro %}

{#
    average handle time = handle time / the answered contacts that have one
    (DECISIONLOG: a format's missing talk time is never a zero)
#}
{% macro aht_seconds(handle_seconds, handled) -%}
    {{ safe_divide(handle_seconds, handled) }}
{%- endmacro %}

{# CSAT = top-2-box answers / answers #}
{% macro csat_rate(top_box_responses, responses) -%}
    {{ safe_divide(top_box_responses, responses) }}
{%- endmacro %}

{# QA score = the evaluations' scores / scored evaluations (their mean) #}
{% macro qa_score(score_sum, evaluations) -%}
    {{ safe_divide(score_sum, evaluations) }}
{%- endmacro %}

{#
    Every rate of the KPI marts over the additive day components, by their
    rpt_daily_kpis names, each prefixed with `prefix` (e.g. 'summed.'): rate
    name -> SQL, in the marts' column order. rpt_kpis_by_period computes its
    rates with it; a singular test checks rpt_daily_kpis's against it.
#}
{% macro rates_from_components(prefix='', variant=none) -%}
    {%- set variant = variant or prefix ~ 'service_level_variant' -%}
    {%- set p = prefix -%}
    {{ return({
        'answer_rate': answer_rate(p ~ 'answered_count', p ~ 'offered_count'),
        'service_level_rate': service_level_rate(
            variant, p ~ 'answered_within_sl_count',
            p ~ 'abandoned_within_sl_count', p ~ 'short_abandoned_count',
            p ~ 'answered_count', p ~ 'offered_count'),
        'common_service_level_rate': common_service_level_rate(
            p ~ 'answered_within_20s_count', p ~ 'abandoned_within_5s_count',
            p ~ 'offered_count'),
        'abandon_rate': abandon_rate(
            p ~ 'abandoned_count', p ~ 'short_abandoned_count', p ~ 'offered_count'),
        'asa_seconds': asa_seconds(p ~ 'answered_wait_seconds_sum', p ~ 'answered_count'),
        'aht_seconds': aht_seconds(p ~ 'handle_seconds_sum', p ~ 'handled_count'),
        'vip_service_level_rate': service_level_rate(
            variant, p ~ 'vip_answered_within_sl_count',
            p ~ 'vip_abandoned_within_sl_count', p ~ 'vip_short_abandoned_count',
            p ~ 'vip_answered_count', p ~ 'vip_offered_count'),
        'csat_rate': csat_rate(p ~ 'csat_top_box_count', p ~ 'csat_response_count'),
        'qa_score': qa_score(p ~ 'qa_score_sum', p ~ 'qa_evaluation_count'),
        'fcr_rate': fcr_rate(p ~ 'fcr_resolved_count', p ~ 'fcr_contact_count'),
        'occupancy_rate': occupancy_rate(
            p ~ 'occupancy_handle_seconds_sum', p ~ 'occupancy_idle_seconds_sum'),
    }) }}
{%- endmacro %}

{#
    Whether each target is met, over columns named as in the KPI marts (each
    prefixed with `prefix`): null while `complete` is not true (a day or
    period still going on has not met or missed a target yet), and where the
    tenant has no target.
#}
{% macro targets_met(complete, prefix='') -%}
    {%- set p = prefix -%}
    {%- set targets = [
        ('is_service_level_target_met', 'service_level_rate', '>=', 'service_level_target'),
        ('is_answer_rate_target_met', 'answer_rate', '>=', 'answer_rate_target'),
        ('is_abandon_rate_target_met', 'abandon_rate', '<=', 'abandon_rate_target'),
        ('is_vip_service_level_target_met', 'vip_service_level_rate', '>=', 'vip_service_level_target'),
        ('is_csat_target_met', 'csat_rate', '>=', 'csat_target'),
        ('is_qa_score_target_met', 'qa_score', '>=', 'qa_score_target'),
    ] -%}
    {%- for name, rate, comparison, target in targets %}
        case
            when {{ complete }} then {{ p }}{{ rate }} {{ comparison }} {{ p }}{{ target }}
        end as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#
    Marketing and HR figures (DECISIONLOG "Marketing and HR marts"), each with
    dbt unit tests in models/marts/marketing and models/marts/hr.
#}

{# return on investment = revenue / cost: 1.0 is break-even, the scale of the
   tenant's roi_pause_threshold (default 1.0: pause what does not pay back) #}
{% macro roi(revenue, cost) -%}
    {{ safe_divide(revenue, cost) }}
{%- endmacro %}

{# attrition (流失) for a period = leavers / average headcount #}
{% macro attrition_rate(leavers, average_headcount) -%}
    {{ safe_divide(leavers, average_headcount) }}
{%- endmacro %}

{# a monthly rate annualised: x 12 / months in the period (docs/kpis.md) #}
{% macro annualised_rate(rate, months_in_period=1) -%}
    ({{ rate }} * 12.0 / {{ months_in_period }})
{%- endmacro %}

{# tenure band of whole months employed: [0, 3), [3, 12), [12, 24), [24, ...) #}
{% macro tenure_band(tenure_months) -%}
    case
        when {{ tenure_months }} < 3 then 'under_3_months'
        when {{ tenure_months }} < 12 then '3_to_12_months'
        when {{ tenure_months }} < 24 then '1_to_2_years'
        else 'over_2_years'
    end
{%- endmacro %}

{#
    Staffing formulas (docs/kpis.md "The other KPIs"; DECISIONLOG 2026-11-25
    "Staffing"). Unit tests: models/*/staffing/_staffing__models.yml.
#}

{# occupancy = handle time / (handle time + available idle time) #}
{% macro occupancy_rate(handle_seconds, idle_seconds) -%}
    {{ safe_divide(handle_seconds, handle_seconds ~ ' + ' ~ idle_seconds) }}
{%- endmacro %}

{# shrinkage = paid time not available for contacts / paid time #}
{% macro shrinkage_rate(unavailable_paid_seconds, paid_seconds) -%}
    {{ safe_divide(unavailable_paid_seconds, paid_seconds) }}
{%- endmacro %}

{# schedule adherence = time in the scheduled state / scheduled time #}
{% macro adherence_rate(in_scheduled_state_seconds, scheduled_seconds) -%}
    {{ safe_divide(in_scheduled_state_seconds, scheduled_seconds) }}
{%- endmacro %}

{#
    Observed caller patience (seconds) = total waiting time of every caller
    who queued (answered, abandoned or timed out: each waited at least that
    long) / abandons. Abandons / waiting time is the abandonment rate theta
    of an exponential patience (the censored-data estimate); its mean
    patience is 1/theta.
#}
{% macro observed_patience_seconds(waiting_seconds, abandoned) -%}
    {{ safe_divide(waiting_seconds, abandoned) }}
{%- endmacro %}

{# weighted absolute percentage error = sum |actual - forecast| / sum actual #}
{% macro wape(absolute_error, actual) -%}
    {{ safe_divide(absolute_error, actual) }}
{%- endmacro %}

{#
    Resource balance (seed 003, docs/domain.md "Staffing"), in seconds of a day:
    workload = calls x answer rate x service share x service AHT
               + marketing pop-up rate x recommendation rate x marketing AHT
    (the marketing term per answered call, times the answered calls);
    capacity = agents x online utilisation x attendance x shift seconds
               x (1 - redundancy loss).
#}
{% macro service_workload_seconds(calls, answer_rate, service_share, service_aht_seconds) -%}
    (
        {{ calls }} * {{ answer_rate }} * {{ service_share }}
        * {{ service_aht_seconds }}
    )
{%- endmacro %}

{% macro marketing_workload_seconds(answered, popup_rate, recommendation_rate, marketing_aht_seconds) -%}
    (
        {{ answered }} * {{ popup_rate }} * {{ recommendation_rate }}
        * {{ marketing_aht_seconds }}
    )
{%- endmacro %}

{% macro capacity_seconds(agents, online_utilisation, attendance, shift_seconds, redundancy_loss) -%}
    (
        {{ agents }} * {{ online_utilisation }} * {{ attendance }}
        * {{ shift_seconds }} * (1 - {{ redundancy_loss }})
    )
{%- endmacro %}

{#
    FCR (first-contact resolution) = answered contacts from a known caller
    with no repeat contact within the tenant's fcr_window_days / answered
    contacts from a known caller (withheld callers left out). Over
    int_contacts_repeat_flagged:
    fcr_rate('count(*) filter (where is_resolved_first_contact)',
             'count(is_resolved_first_contact)')
    (unit tests in models/marts/quality/_quality__models.yml).
#}
{% macro fcr_rate(resolved_first_contact, known_caller_contacts) -%}
    {{ safe_divide(resolved_first_contact, known_caller_contacts) }}
{%- endmacro %}
