-- Epics: every issue (open or closed, not an audit) whose body holds a checklist of children
-- (see int_checklist_items) or that has native sub-issues in its repository (children from both,
-- once each: epic_children), with progress and its branch `epic/<n>-<slug>` (or `epic/<n>`).
-- is_complete: no child is open (missing children do not hold an epic back).
-- Grain: one row per epic (repo, epic).
with

issues as (

    select * from stg_issues

),

children as (

    select * from epic_children

),

branches as (

    select * from stg_branches

),

progress as (

    select
        children.repo,
        children.epic,
        count(*) as count_children,
        count(*) filter (where children.is_checked) as count_checked,
        count(*) filter (where children.child_state = 'closed') as count_closed,
        count(*) filter (where children.child_state = 'open') as count_open,
        count(*) filter (where children.child_state = 'missing') as count_missing,
        count(*) filter (where children.is_closed_not_ticked) as count_closed_not_ticked,
        count(distinct children.phase) as count_phases
    from children
    group by all

),

epic_branches as (

    select
        progress.repo,
        progress.epic,
        min(branches.branch) as branch
    from progress
    inner join branches
        on branches.repo = progress.repo
        and (
            branches.branch = 'epic/' || progress.epic
            or starts_with(branches.branch, 'epic/' || progress.epic || '-')
        )
    group by all

),

final as (

    select
        ----------  ids
        progress.repo,
        progress.epic,

        ----------  text
        issues.title,
        issues.state,
        epic_branches.branch,
        issues.html_url,

        ----------  numerics
        progress.count_children,
        progress.count_checked,
        progress.count_closed,
        progress.count_open,
        progress.count_missing,
        progress.count_closed_not_ticked,
        progress.count_phases,

        ----------  booleans
        issues.is_open,
        epic_branches.branch is not null as is_branch_present,
        progress.count_open = 0 as is_complete,

        ----------  timestamps
        issues.created_at,
        issues.updated_at,
        issues.closed_at

    from progress
    inner join issues
        on issues.repo = progress.repo
        and issues.number = progress.epic
    left join epic_branches
        on epic_branches.repo = progress.repo
        and epic_branches.epic = progress.epic

)

select * from final
