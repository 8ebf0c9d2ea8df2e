-- Open audit issues: title matches `[Audit]` or `audit:` (any case), with their parsed findings.
-- is_trusted: a trusted author wrote it (README "Trust model"); an untrusted one is listed, never
-- actionable (no finding is filed, it is never closed) and failure_modes says how to adopt it.
-- Grain: one row per open audit issue (repo, number).
with

issue_state as (

    select * from int_issue_state

),

issues as (

    select * from stg_issues

),

findings as (

    select * from stg_findings

),

warnings as (

    select * from stg_parse_warnings

),

finding_counts as (

    select
        findings.repo,
        findings.audit_number as number,
        count(*) as count_findings
    from findings
    group by all

),

warning_counts as (

    select
        warnings.repo,
        warnings.number,
        count(*) as count_parse_warnings
    from warnings
    group by all

),

final as (

    select
        ----------  ids
        issue_state.repo,
        issue_state.number,

        ----------  text
        issue_state.title,
        issues.html_url,

        ----------  numerics
        coalesce(finding_counts.count_findings, 0) as count_findings,
        coalesce(warning_counts.count_parse_warnings, 0) as count_parse_warnings,

        ----------  booleans
        issue_state.is_trusted,
        issue_state.is_trusted and coalesce(finding_counts.count_findings, 0) > 0 as is_actionable,

        ----------  timestamps
        issue_state.created_at,
        issue_state.updated_at

    from issue_state
    inner join issues
        on issues.repo = issue_state.repo
        and issues.number = issue_state.number
    left join finding_counts
        on finding_counts.repo = issue_state.repo
        and finding_counts.number = issue_state.number
    left join warning_counts
        on warning_counts.repo = issue_state.repo
        and warning_counts.number = issue_state.number
    where issue_state.is_open
      and issue_state.is_audit_issue

)

select * from final
