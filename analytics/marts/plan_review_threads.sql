-- Review threads the plan may resolve: unresolved and outdated (the code they were on has changed
-- since) on an open pull request, with the PR's author. The planner keeps those of PRs the agent
-- opened (common/agents.py recognises its accounts) and plans one `resolve_threads` per PR, when
-- `dispatch.resolve_outdated_threads` is on. PRs a person has taken over (`needs-human`) are left.
-- Only GraphQL sees threads: after a REST snapshot this view is empty.
-- Grain: one row per review thread (repo, number, thread_id).
with

threads as (

    select * from review_threads

),

pulls as (

    select * from stg_pull_requests

),

escalations as (

    select * from int_escalations

),

final as (

    select
        ----------  ids
        threads.repo,
        threads.number,
        threads.thread_id,

        ----------  text
        pulls.author,
        threads.path,
        threads.first_author

    from threads
    inner join pulls
        on pulls.repo = threads.repo
        and pulls.number = threads.number
    left join escalations
        on escalations.repo = threads.repo
        and escalations.number = threads.number
    where pulls.is_open
      and threads.is_resolved = false
      and threads.is_outdated = true
      and not coalesce(escalations.is_escalated, false)

)

select * from final
