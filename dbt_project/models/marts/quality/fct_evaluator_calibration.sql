{#
    One row per tenant x calibration session x evaluator (participant): how
    far the evaluator's criterion scores lie from the session's consensus.
    The consensus of a criterion is the session's consensus row when it has
    one, else the median of the participants' scores (the evaluator's own
    included). Deviation per criterion = (evaluator score - consensus score) /
    max_score, so criteria of different point scales weigh alike; compared
    are the criteria both the evaluator and the consensus scored and that have
    a max_score. A criterion one side marks not applicable and the other
    scores counts as a not-applicable mismatch.
#}
with

calibrations as (

    select * from {{ ref('stg_qa__calibrations') }}

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

consensus_rows as (

    select
        tenant_id,
        calibration_id,
        criterion_id,
        arg_max(score, loaded_at) as consensus_score,
        arg_max(is_not_applicable, loaded_at) as is_consensus_not_applicable,
        arg_max(max_score, loaded_at) as consensus_max_score
    from calibrations
    where is_consensus
    group by 1, 2, 3

),

participants as (

    select * from calibrations
    where not is_consensus and evaluator_id is not null

),

medians as (

    select
        tenant_id,
        calibration_id,
        criterion_id,
        median(score) filter (
            where not is_not_applicable and score is not null
        ) as median_score,
        max(max_score) as median_max_score
    from participants
    group by 1, 2, 3

),

compared as (

    select
        participants.tenant_id,
        participants.calibration_id,
        participants.evaluator_id,
        participants.criterion_id,
        participants.form_id,
        participants.calibrated_at,
        consensus_rows.criterion_id is not null as has_consensus_row,
        participants.is_not_applicable or participants.score is null
            as is_evaluator_not_applicable,
        case
            when consensus_rows.criterion_id is not null
                then
                    consensus_rows.is_consensus_not_applicable
                    or consensus_rows.consensus_score is null
            else medians.median_score is null
        end as is_consensus_not_applicable,
        participants.score,
        case
            when consensus_rows.criterion_id is not null
                then consensus_rows.consensus_score
            else medians.median_score
        end as consensus_score,
        coalesce(
            participants.max_score,
            consensus_rows.consensus_max_score,
            medians.median_max_score
        ) as max_score
    from participants
    left join consensus_rows
        on
            participants.tenant_id = consensus_rows.tenant_id
            and participants.calibration_id = consensus_rows.calibration_id
            and participants.criterion_id = consensus_rows.criterion_id
    left join medians
        on
            participants.tenant_id = medians.tenant_id
            and participants.calibration_id = medians.calibration_id
            and participants.criterion_id = medians.criterion_id

),

deviations as (

    select
        *,
        case
            when
                not is_evaluator_not_applicable
                and not is_consensus_not_applicable
                and max_score > 0
                then (score - consensus_score) / max_score
        end as deviation
    from compared

),

aggregated as (

    select
        tenant_id,
        calibration_id,
        evaluator_id,
        any_value(form_id) as form_id,
        min(calibrated_at) as calibrated_at,
        case
            when bool_and(has_consensus_row) then 'consensus_row'
            when not bool_or(has_consensus_row) then 'median'
            else 'mixed'
        end as consensus_source,
        count(*) as criteria_scored_count,
        count(deviation) as criteria_compared_count,
        count(*) filter (
            where is_evaluator_not_applicable <> is_consensus_not_applicable
        ) as not_applicable_mismatch_count,
        avg(abs(deviation)) as mean_absolute_deviation,
        avg(deviation) as signed_bias
    from deviations
    group by 1, 2, 3

),

final as (

    select
        -- ids
        aggregated.tenant_id,
        aggregated.calibration_id,
        aggregated.evaluator_id,
        aggregated.form_id,

        -- strings
        aggregated.consensus_source,

        -- numerics
        aggregated.criteria_scored_count,
        aggregated.criteria_compared_count,
        aggregated.not_applicable_mismatch_count,
        aggregated.mean_absolute_deviation,
        aggregated.signed_bias,

        -- dates
        cast(
            {{ to_local('aggregated.calibrated_at', 'tenants.timezone') }}
            as date
        ) as calibrated_date,

        -- timestamps (UTC)
        aggregated.calibrated_at

    from aggregated
    inner join tenants
        on aggregated.tenant_id = tenants.tenant_id

)

select * from final
