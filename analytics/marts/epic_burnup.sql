-- Each epic child (issue or pull request) with when it was opened and closed (the report's burn-up).
-- A child missing from the snapshot keeps its row with NULL times.
-- Grain: one row per epic child (repo, epic, child) and matching item (an issue and a PR never share a number).
with

children as (

    select * from epic_children

),

issue_rows as (

    select repo, number, created_at, closed_at, state from issues

),

pull_rows as (

    select repo, number, created_at, closed_at, state from pull_requests

),

items as (

    select * from issue_rows
    union all
    select * from pull_rows

),

final as (

    select
        children.repo,
        children.epic,
        children.child,
        items.created_at,
        items.closed_at,
        items.state
    from children
    left join items on items.repo = children.repo and items.number = children.child

)

select * from final
