-- When an issue was first handed to someone by label or assignment: the forecast's dispatch starts
-- (analytics/forecast_inputs.py `agent_events`) pick the agent's label and assignee from here.
--   handoff:    'labeled' (a label added) or 'assigned' (an assignee added);
--   handed_to:  the label or the assignee's login, lower-cased;
--   first_at:   the first such event on the issue.
-- Grain: one row per (repo, number, handoff, handed_to).
with

events as (

    select * from stg_issue_events

),

handoffs as (

    select
        events.repo,
        events.number,
        events.event as handoff,
        lower(case when events.event = 'labeled' then events.label else events.assignee end) as handed_to,
        events.created_at
    from events
    where not events.is_pull_request
      and events.event in ('labeled', 'assigned')

),

first_handoffs as (

    select
        handoffs.repo,
        handoffs.number,
        handoffs.handoff,
        handoffs.handed_to,
        min(handoffs.created_at) as first_at
    from handoffs
    where handoffs.handed_to is not null
    group by all

),

final as (

    select * from first_handoffs

)

select * from final
