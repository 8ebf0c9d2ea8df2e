-- The runbook's failure modes, detected; each row names the recovery the plan applies.
--   no actionable findings   -> close the audit as not applicable
--   too few issues for an epic -> dispatch directly, no epic
--   agent cannot handle it   -> a PR whose CI keeps failing after the nudges: escalate to a person
--   cascade conflicts        -> several conflicting PRs into one epic branch: nudge one at a time
--   repo has no CI           -> no CI gate: rely on reviews only
--   epic branch diverged     -> merge the default branch into the epic branch
--   PR behind its base       -> update the PR's branch
-- and the instructions ignored because an untrusted author wrote them (README "Trust model"),
-- each with how a person adopts it:
--   untrusted audit / untrusted epic / untrusted Parent: link / forged marker
-- "Agent quota exhausted" depends on today's ledger and team, so the plan reports it
-- (`dispatch_plans.summary.quota_exhausted`) instead of this view.
-- Grain: one row per (failure, repo, target).
with

audit_issues as (

    select * from audit_issues

),

epic_proposals as (

    select * from epic_proposals

),

stuck_prs as materialized (  -- read three times below: compute it once

    select * from stuck_prs

),

pull_requests as (

    select * from stg_pull_requests

),

branches as (

    select * from stg_branches

),

settings as (

    select * from stg_settings

),

issues as (

    select * from stg_issues

),

comments as (

    select * from stg_comments

),

native_links as (

    select * from sub_issues

),

checklists as (

    select * from int_checklist_items

),

no_actionable_findings as (

    select
        'no actionable findings' as failure,
        audit_issues.repo,
        cast(audit_issues.number as varchar) as target,
        'audit has no finding to implement' as detail,
        'close as not applicable' as recovery
    from audit_issues
    where audit_issues.is_trusted
      and not audit_issues.is_actionable
      and audit_issues.count_parse_warnings = 0

),

too_few_for_epic as (

    select
        'too few issues for an epic' as failure,
        epic_proposals.repo,
        cast(epic_proposals.number as varchar) as target,
        'fewer than ' || settings.direct_dispatch_below || ' implementation issues in the repo' as detail,
        'dispatch directly, no epic' as recovery
    from epic_proposals
    cross join settings
    where epic_proposals.is_direct_dispatch

),

failing_again_and_again as (

    select
        'agent cannot handle it' as failure,
        stuck_prs.repo,
        cast(stuck_prs.number as varchar) as target,
        'CI still failing after ' || stuck_prs.count_nudges || ' nudges' as detail,
        'escalate to a person' as recovery
    from stuck_prs
    cross join settings
    where stuck_prs.ci_failing and stuck_prs.count_nudges >= settings.escalate_after_nudges

),

cascade_conflicts as (

    select
        'cascade conflicts' as failure,
        stuck_prs.repo,
        stuck_prs.base_ref as target,
        count(*) || ' conflicting PRs into ' || stuck_prs.base_ref as detail,
        'serialise merges: nudge one PR at a time' as recovery
    from stuck_prs
    where stuck_prs.conflicting and stuck_prs.base_ref like 'epic/%'
    group by stuck_prs.repo, stuck_prs.base_ref
    having count(*) >= 2

),

repos_without_ci as (

    select
        'repo has no CI' as failure,
        pull_requests.repo,
        pull_requests.repo as target,
        count(*) || ' PRs checked, none with a check run or status' as detail,
        'no CI gate: rely on reviews' as recovery
    from pull_requests
    where pull_requests.detail_at is not null
    group by pull_requests.repo
    having max(coalesce(pull_requests.count_checks, 0)) = 0

),

diverged_epic_branches as (

    select
        'epic branch diverged' as failure,
        branches.repo,
        branches.branch as target,
        branches.count_behind || ' commits behind the default branch' as detail,
        'merge the default branch into the epic branch' as recovery
    from branches
    cross join settings
    where branches.count_behind >= settings.epic_branch_max_behind

),

behind_base as (

    select
        'PR behind its base' as failure,
        stuck_prs.repo,
        cast(stuck_prs.number as varchar) as target,
        'mergeable_state behind' as detail,
        'update the branch' as recovery
    from stuck_prs
    where stuck_prs.is_behind

),

untrusted_audits as (

    select
        'untrusted audit' as failure,
        audit_issues.repo,
        cast(audit_issues.number as varchar) as target,
        'audit written by an untrusted author: its ' || audit_issues.count_findings
            || ' findings are not filed and it is never closed' as detail,
        'to adopt it, a trusted person re-files it as a new audit (or the author is added to '
            || 'github.trusted_authors)' as recovery
    from audit_issues
    where not audit_issues.is_trusted

),

untrusted_epics as (

    select
        'untrusted epic' as failure,
        checklists.repo,
        cast(checklists.epic as varchar) as target,
        'checklist of ' || count(*) || ' issues written by an untrusted author: not an epic' as detail,
        'to adopt it, a trusted person files the checklist as a new epic' as recovery
    from checklists
    inner join issues
        on issues.repo = checklists.repo
        and issues.number = checklists.epic
    where not checklists.is_trusted
      and issues.is_open
      and not exists (  -- native sub-issues (linked by people with write access) make it an epic anyway
          select 1 from native_links
          where native_links.repo = checklists.repo
            and native_links.parent = checklists.epic
      )
    group by all

),

untrusted_parent_links as (

    select
        'untrusted Parent: link' as failure,
        comments.repo,
        cast(comments.number as varchar) as target,
        count(*) || ' `Parent:` comment(s) by an untrusted author, ignored' as detail,
        'to adopt it, a trusted person comments `Parent: #<epic>` on the issue' as recovery
    from comments
    where not comments.is_trusted
      and regexp_matches(comments.body, '(?i)\bparent:\s*#\d+')
    group by all

),

forged_markers as (

    select
        'forged marker' as failure,
        marked.repo,
        cast(marked.number as varchar) as target,
        count(*) || ' orchestrator marker(s) in text not written by the orchestrator''s own identity, '
            || 'ignored' as detail,
        'none needed: only the orchestrator''s own issues and comments carry markers; '
            || 'to adopt the request, re-file it as a trusted person without the marker' as recovery
    from (
        select repo, number, body from issues where not is_own
        union all
        select repo, number, body from comments where not is_own
    ) as marked
    where regexp_matches(marked.body, '<!--\s*orchestrator:[\w-]+')
    group by all

),

final as (

    select * from no_actionable_findings
    union all select * from too_few_for_epic
    union all select * from failing_again_and_again
    union all select * from cascade_conflicts
    union all select * from repos_without_ci
    union all select * from diverged_epic_branches
    union all select * from behind_base
    union all select * from untrusted_audits
    union all select * from untrusted_epics
    union all select * from untrusted_parent_links
    union all select * from forged_markers

)

select * from final
