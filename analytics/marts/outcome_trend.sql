-- Measured success by agent, language and week of dispatch: the trend of `outcome_rates`. A
-- week is the ISO week (Monday, UTC) of the attempt's `dispatched_at`.
--   count_dispatched: every attempt of the week; count_finished: those 'merged', 'closed_unmerged'
--   or 'abandoned'; success_rate: count_merged / count_finished (null while all are in flight).
-- Grain: one row per (agent, language, week) with at least one dispatch.
with

outcomes as (

    select * from outcomes

)

select
    outcomes.agent,
    coalesce(outcomes.language, '(unknown)') as language,
    cast(date_trunc('week', outcomes.dispatched_at) as date) as week,
    count(*) as count_dispatched,
    count(*) filter (where outcomes.outcome <> 'in_flight') as count_finished,
    count(*) filter (where outcomes.outcome = 'merged') as count_merged,
    count(*) filter (where outcomes.outcome = 'merged')
        / nullif(count(*) filter (where outcomes.outcome <> 'in_flight'), 0) as success_rate
from outcomes
group by all
