-- Epic children with the dates the forecast needs (analytics/forecast_inputs.py `children`):
--   created_at: when the child issue (or pull request) was opened: when it was listed, at the latest;
--   closed_at:  when it was closed (the forecast counts it done only when child_state is 'closed').
-- Grain: one row per epic child (repo, epic, child).
with

children as (

    select * from epic_children

),

issues as (

    select * from stg_issues

),

pull_requests as (

    select * from stg_pull_requests

),

dated as (

    select
        children.repo,
        children.epic,
        children.child,
        children.phase,
        children.child_state,
        children.severity,
        children.is_dispatched,
        coalesce(issues.created_at, pull_requests.created_at) as created_at,
        coalesce(issues.closed_at, pull_requests.closed_at) as closed_at
    from children
    left join issues
        on issues.repo = children.repo
        and issues.number = children.child
    left join pull_requests
        on pull_requests.repo = children.repo
        and pull_requests.number = children.child

),

final as (

    select * from dated

)

select * from final
