-- GitHub's native issue dependencies ("blocked by"), as the latest snapshot saw them (current
-- links only; the history is in issue_dependency_history). The blocking issue may live in
-- another repository.
-- Grain: one row per (repo, number, blocked_by_repo, blocked_by).
with

links as (

    select * from issue_dependency_history

),

current_links as (

    select
        repo,
        number,
        blocked_by_repo,
        blocked_by
    from links
    where valid_to is null

)

select * from current_links
