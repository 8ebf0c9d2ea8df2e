-- GitHub's native sub-issues, as the latest snapshot saw them (current links only; the history is
-- in sub_issue_history). A child may live in another repository of the organisation.
-- Grain: one row per (repo, parent, child_repo, child).
with

links as (

    select * from sub_issue_history

),

current_links as (

    select
        repo,
        parent,
        child_repo,
        child
    from links
    where valid_to is null

)

select * from current_links
