-- Per repository: issues open and closed, audits, open epics, open and merged PRs, stuck PRs.
-- `repo` is the name without the owner (the demo's table).
-- Grain: one row per repository (repo).
with

repositories as (

    select * from stg_repositories

),

issue_counts as (

    select
        repo,
        count(*) filter (state = 'open') as count_open,
        count(*) filter (state = 'closed') as count_closed
    from issues
    group by repo

),

pull_counts as (

    select repo, count(*) filter (state = 'open') as count_prs, count(*) filter (merged) as count_merged
    from pull_requests
    group by repo

),

audit_counts as (

    select repo, count(*) as count_audits from audit_issues group by repo

),

epic_counts as (

    select repo, count(*) as count_epics from epics where is_open group by repo

),

stuck_counts as (

    select repo, count(*) as count_stuck from stuck_prs where is_stuck group by repo

),

final as (

    select
        split_part(repositories.repo, '/', 2) as repo,
        coalesce(issue_counts.count_open, 0) as count_open,
        coalesce(issue_counts.count_closed, 0) as count_closed,
        coalesce(audit_counts.count_audits, 0) as count_audits,
        coalesce(epic_counts.count_epics, 0) as count_epics,
        coalesce(pull_counts.count_prs, 0) as count_prs,
        coalesce(pull_counts.count_merged, 0) as count_merged,
        coalesce(stuck_counts.count_stuck, 0) as count_stuck
    from repositories
    left join issue_counts on issue_counts.repo = repositories.repo
    left join pull_counts on pull_counts.repo = repositories.repo
    left join audit_counts on audit_counts.repo = repositories.repo
    left join epic_counts on epic_counts.repo = repositories.repo
    left join stuck_counts on stuck_counts.repo = repositories.repo

)

select * from final
