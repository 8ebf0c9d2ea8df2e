-- Pull requests working on an issue, with the dates that make them attempts: a PR closed unmerged
-- is a failed attempt, a merged one ends the issue's dispatch (analytics/forecast_inputs.py `pr_links`).
-- Grain: one row per (repo, issue, pr_number).
with

links as (

    select * from int_pr_issue_links

),

pull_requests as (

    select * from stg_pull_requests

),

attempts as (

    select distinct
        links.repo,
        links.issue_number as issue,
        links.pr_number,
        pull_requests.created_at,
        pull_requests.merged_at,
        pull_requests.closed_at,
        pull_requests.is_merged as merged
    from links
    inner join pull_requests
        on pull_requests.repo = links.repo
        and pull_requests.number = links.pr_number

),

final as (

    select * from attempts

)

select * from final
