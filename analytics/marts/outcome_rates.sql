-- Measured success by agent and language: what routing learns from, as the demo and the report
-- show it. Over `outcomes`: finished attempts are 'merged' (a success), 'closed_unmerged' and
-- 'abandoned' (failures); 'in_flight' ones are counted apart and are not in the rate.
--   count_finished, count_merged, count_in_flight: attempts;
--   success_rate: count_merged / count_finished (null when nothing finished yet).
-- Grain: one row per (agent, language); language '(unknown)' when the repository has none.
with

outcomes as (

    select * from outcomes

)

select
    outcomes.agent,
    coalesce(outcomes.language, '(unknown)') as language,
    count(*) filter (where outcomes.outcome <> 'in_flight') as count_finished,
    count(*) filter (where outcomes.outcome = 'merged') as count_merged,
    count(*) filter (where outcomes.outcome = 'in_flight') as count_in_flight,
    count(*) filter (where outcomes.outcome = 'merged')
        / nullif(count(*) filter (where outcomes.outcome <> 'in_flight'), 0) as success_rate
from outcomes
group by all
