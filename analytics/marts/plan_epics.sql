-- Epics with how far their branch is behind the default branch (the planner's input).
-- Grain: one row per epic (repo, epic).
with

epic_rows as (

    select * from epics

),

branch_rows as (

    select * from branches

),

final as (

    select
        epic_rows.repo,
        epic_rows.epic,
        epic_rows.title,
        epic_rows.branch,
        epic_rows.is_open,
        epic_rows.is_complete,
        epic_rows.is_branch_present,
        branch_rows.behind_by
    from epic_rows
    left join branch_rows on branch_rows.repo = epic_rows.repo and branch_rows.name = epic_rows.branch

)

select * from final
