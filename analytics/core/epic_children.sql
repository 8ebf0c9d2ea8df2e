-- The children of every epic (a checklist a trusted author wrote: an outsider's checklist is
-- never an epic), with their state and what is happening to them.
--   child_state:          open / closed / missing (not in the snapshot: deleted, moved, not fetched);
--   is_merged:            a PR child that merged, or an issue child closed by a merged PR's keyword;
--   has_parent_comment:   a comment `Parent: #<epic>` on the child by a trusted author;
--   is_dispatched:        agent label now, a `labeled` event with it, or a done `dispatch` in the ledger;
--   has_open_pr:          an open PR links to the child (closing keyword or branch name holding its
--                         number, see int_pr_issue_links); for a PR child, the PR itself is open.
-- Grain: one row per (repo, epic, child).
with

items as (

    select * from int_checklist_items where is_trusted

),

issue_state as (

    select * from int_issue_state

),

pull_requests as (

    select * from stg_pull_requests

),

comments as (

    select * from stg_comments

),

parent_mentions as (

    select
        comments.repo,
        comments.number as child,
        unnest(regexp_extract_all(comments.body, '(?i)\bparent:\s*#(\d+)', 1)) as parent_number
    from comments
    where comments.is_trusted
      and comments.body ilike '%parent:%'

),

parent_comments as (

    select distinct
        repo,
        child,
        try_cast(parent_number as integer) as epic
    from parent_mentions

),

final as (

    select
        ----------  ids
        items.repo,
        items.epic,
        items.child,

        ----------  phase
        items.phase,
        items.phase_title,
        items.line_number,

        ----------  text
        coalesce(issue_state.title, pull_requests.title) as child_title,
        case
            when issue_state.number is not null then issue_state.state
            when pull_requests.number is not null then pull_requests.state
            else 'missing'
        end as child_state,
        issue_state.severity,
        issue_state.type,

        ----------  booleans
        items.is_checked,
        issue_state.number is null and pull_requests.number is not null as child_is_pr,
        case
            when issue_state.number is not null then issue_state.has_merged_pr
            when pull_requests.number is not null then pull_requests.is_merged
            else false
        end as is_merged,
        coalesce(issue_state.state, pull_requests.state) = 'closed' and not items.is_checked
            as is_closed_not_ticked,
        coalesce(issue_state.state, pull_requests.state) = 'open' and items.is_checked
            as is_ticked_but_open,
        parent_comments.epic is not null as has_parent_comment,
        coalesce(issue_state.is_dispatched, false) as is_dispatched,
        case
            when issue_state.number is not null then issue_state.has_open_pr
            when pull_requests.number is not null then pull_requests.is_open
            else false
        end as has_open_pr

    from items
    left join issue_state
        on issue_state.repo = items.repo
        and issue_state.number = items.child
    left join pull_requests
        on pull_requests.repo = items.repo
        and pull_requests.number = items.child
    left join parent_comments
        on parent_comments.repo = items.repo
        and parent_comments.child = items.child
        and parent_comments.epic = items.epic

)

select * from final
