-- The children of every epic, with their state and what is happening to them. A child is on the
-- epic's checklist (written by a trusted author: an outsider's checklist is never an epic) or a
-- native sub-issue of it (GitHub lets only people with write access link sub-issues, so every
-- link is trusted), or both: one row either way. Sub-issues in another repository are not children
-- here (they stay in `sub_issues`); an audit's sub-issues do not make it an epic.
--   phase:                the checklist's phase; a sub-issue not on the checklist takes the epic's
--                         last phase (1 when the epic has no checklist): work with no place in the
--                         order never runs ahead of the ordered work;
--   is_listed / is_sub_issue: on the checklist / a native sub-issue;
--   is_checked:           its checklist box is ticked; for a sub-issue not on the checklist, closed;
--   child_state:          open / closed / missing (not in the snapshot: deleted, moved, not fetched);
--   is_merged:            a PR child that merged, or an issue child closed by a merged PR's keyword;
--   has_parent_comment:   a comment `Parent: #<epic>` on the child by a trusted author;
--   needs_link:           the plan's `link_child` is due: no `Parent:` comment, or not a sub-issue
--                         yet and no done `link_child` of it in the ledger that tried the native
--                         link (one try: a server without sub-issues, or a person who unlinked
--                         it, is not asked again);
--   is_dispatched:        agent label now, a `labeled` event with it, or a done `dispatch` in the ledger;
--   has_open_pr:          an open PR links to the child (closing keyword or branch name holding its
--                         number, see int_pr_issue_links); for a PR child, the PR itself is open.
-- Grain: one row per (repo, epic, child).
with

checklist_items as (

    select * from int_checklist_items where is_trusted

),

links as (

    select * from sub_issues

),

ledger as (

    select * from stg_action_log

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

native_children as (

    select distinct
        links.repo,
        links.parent as epic,
        links.child
    from links
    inner join issue_state as parents
        on parents.repo = links.repo
        and parents.number = links.parent
    where lower(links.child_repo) = lower(links.repo)
      and links.child <> links.parent
      and not parents.is_audit_issue

),

last_phases as (

    select
        checklist_items.repo,
        checklist_items.epic,
        max(checklist_items.phase) as phase
    from checklist_items
    group by all

),

merged_children as (

    select
        coalesce(checklist_items.repo, native_children.repo) as repo,
        coalesce(checklist_items.epic, native_children.epic) as epic,
        coalesce(checklist_items.child, native_children.child) as child,
        checklist_items.phase,
        checklist_items.phase_title,
        checklist_items.line_number,
        checklist_items.is_checked,
        checklist_items.child is not null as is_listed,
        native_children.child is not null as is_sub_issue
    from checklist_items
    full outer join native_children
        on native_children.repo = checklist_items.repo
        and native_children.epic = checklist_items.epic
        and native_children.child = checklist_items.child

),

items as (

    select
        merged_children.* exclude (phase),
        coalesce(merged_children.phase, last_phases.phase, 1) as phase
    from merged_children
    left join last_phases
        on last_phases.repo = merged_children.repo
        and last_phases.epic = merged_children.epic

),

native_tried as (

    select distinct
        ledger.repo,
        ledger.target_number as child
    from ledger
    where ledger.action = 'link_child'
      and ledger.is_done
      and ledger.reason ilike '%sub-issue%'  -- rows from before native links say nothing: try those once

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
        coalesce(
            items.is_checked,
            coalesce(issue_state.state, pull_requests.state) = 'closed'
        ) as is_checked,
        items.is_listed,
        items.is_sub_issue,
        issue_state.number is null and pull_requests.number is not null as child_is_pr,
        case
            when issue_state.number is not null then issue_state.has_merged_pr
            when pull_requests.number is not null then pull_requests.is_merged
            else false
        end as is_merged,
        items.is_listed and coalesce(issue_state.state, pull_requests.state) = 'closed' and not items.is_checked
            as is_closed_not_ticked,
        items.is_listed and coalesce(issue_state.state, pull_requests.state) = 'open' and items.is_checked
            as is_ticked_but_open,
        parent_comments.epic is not null as has_parent_comment,
        parent_comments.epic is null or (not items.is_sub_issue and native_tried.child is null) as needs_link,
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
    left join native_tried
        on native_tried.repo = items.repo
        and native_tried.child = items.child

)

select * from final
