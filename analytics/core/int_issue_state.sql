-- Every issue with what the planner needs to know about it: classification from its labels
-- (`severity:`, `type:`, `area:`/`subsystem:`/`component:`), whether it is an audit, whether
-- it was dispatched to the agent and whether a PR works on it.
--   is_dispatched:  carries one of the agent's labels (or is assigned to one of its accounts) now,
--                   or was ever labelled with one (issue_events): stg_settings.agent_labels /
--                   agent_assignees, from the agent back-end's recognition (common/agents.py),
--                   or the ledger has a `dispatch` action with status `done` for it;
--   has_open_pr:    an open PR links to it (int_pr_issue_links: closing keyword or branch name);
--   has_merged_pr:  a merged PR closes it by keyword;
--   is_trusted:     written by a trusted author (README "Trust model"); is_audit_issue is the title
--                   alone, so an outsider's "[Audit]" shows here but is never acted on.
-- Grain: one row per issue (repo, number).
with

issues as (

    select * from stg_issues

),

settings as (

    select * from stg_settings

),

events as (

    select * from stg_issue_events

),

ledger as (

    select * from stg_action_log

),

pr_links as (

    select * from int_pr_issue_links

),

labelled as (

    select
        issues.repo,
        issues.number,
        issues.title,
        issues.state,
        issues.is_open,
        issues.is_trusted,
        issues.labels,
        [lower(trim(label)) for label in issues.labels] as labels_lower,
        [lower(login) for login in issues.assignees] as assignees_lower,
        issues.created_at,
        issues.updated_at,
        issues.closed_at
    from issues

),

classified as (

    select
        labelled.*,
        trim(regexp_extract(
            [label for label in labels_lower if starts_with(label, 'severity:')][1], '^severity:(.*)$', 1
        )) as severity_label,
        nullif(trim(regexp_extract(
            [label for label in labels_lower if starts_with(label, 'type:')][1], '^type:(.*)$', 1
        )), '') as type,
        nullif(trim(regexp_extract(
            [label for label in labels_lower if regexp_matches(label, '^(area|subsystem|component):')][1],
            '^(?:area|subsystem|component):(.*)$', 1
        )), '') as subsystem,
        list_contains(labels_lower, 'audit') as is_audit_labelled,
        regexp_matches(labelled.title, '(?i)\[audit\]|\baudit:') as is_audit_issue
    from labelled

),

labeled_events as (

    select distinct
        events.repo,
        events.number
    from events
    cross join settings
    where events.event = 'labeled'
      and list_contains(settings.agent_labels, lower(events.label))

),

ledger_dispatches as (

    select distinct
        ledger.repo,
        ledger.target_number as number
    from ledger
    where ledger.action = 'dispatch'
      and ledger.is_done
      and ledger.target_number is not null

),

pr_summary as (

    select
        pr_links.repo,
        pr_links.issue_number as number,
        bool_or(pr_links.is_pr_open) as has_open_pr,
        bool_or(pr_links.is_pr_merged and pr_links.link_kind = 'closing_keyword') as has_merged_pr
    from pr_links
    group by all

),

final as (

    select
        ----------  ids
        classified.repo,
        classified.number,

        ----------  text
        classified.title,
        classified.state,
        case
            when classified.severity_label in ('critical', 'high', 'medium', 'low')
                then classified.severity_label
            else 'medium'
        end as severity,
        classified.type,
        classified.subsystem,
        classified.labels,

        ----------  booleans
        classified.is_open,
        classified.is_trusted,
        classified.is_audit_issue,
        classified.is_audit_labelled,
        len(list_intersect(classified.labels_lower, settings.agent_labels)) > 0 as has_agent_label,
        len(list_intersect(classified.assignees_lower, settings.agent_assignees)) > 0 as is_assigned_to_agent,
        len(list_intersect(classified.labels_lower, settings.agent_labels)) > 0
            or len(list_intersect(classified.assignees_lower, settings.agent_assignees)) > 0
            or labeled_events.number is not null
            or ledger_dispatches.number is not null as is_dispatched,
        coalesce(pr_summary.has_open_pr, false) as has_open_pr,
        coalesce(pr_summary.has_merged_pr, false) as has_merged_pr,

        ----------  timestamps
        classified.created_at,
        classified.updated_at,
        classified.closed_at

    from classified
    cross join settings
    left join labeled_events
        on labeled_events.repo = classified.repo
        and labeled_events.number = classified.number
    left join ledger_dispatches
        on ledger_dispatches.repo = classified.repo
        and ledger_dispatches.number = classified.number
    left join pr_summary
        on pr_summary.repo = classified.repo
        and pr_summary.number = classified.number

)

select * from final
