-- Pull requests that need an intervention, with whether a person has them already (the planner's input).
-- Grain: one row per open pull request with an intervention (repo, number).
with

stuck as (

    select * from stuck_prs

),

pulls as (

    select * from pull_requests

),

escalations as (

    select * from int_escalations

),

final as (

    select
        stuck.repo,
        stuck.number,
        stuck.intervention,
        stuck.is_stuck,
        stuck.count_nudges,
        stuck.last_nudged_at,
        stuck.base_ref,
        coalesce(escalations.is_escalated, false) as is_escalated
    from stuck
    inner join pulls on pulls.repo = stuck.repo and pulls.number = stuck.number
    left join escalations on escalations.repo = stuck.repo and escalations.number = stuck.number
    where stuck.intervention is not null

)

select * from final
