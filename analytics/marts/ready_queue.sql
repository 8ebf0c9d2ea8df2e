-- Work that can be dispatched now, in dispatch order.
-- Rows: every dispatchable child of phase_readiness (current phase of an open epic), plus the
-- 'dispatch directly' issues of epic_proposals (repos with fewer than 3 implementation issues,
-- not in an epic) that are not dispatched and have no open PR. A child of two epics appears once
-- (lowest epic). Order (queue_position): critical, then high, first (medium and low rank alike) -> repos with most
-- work left (repo_open_work: open issues that are neither audits nor epics) -> issues without
-- open dependencies (`depends on #N` / `blocked by #N` naming an open issue, or a native "blocked
-- by" link, issue_dependencies, to an open issue of any snapshotted repository; a blocker the
-- snapshot does not hold is not known to be open and does not count) -> repos whose CI
-- passes most (ci_pass_rate: merged share of closed PRs, else success share of open PRs'
-- CI; NULL last) -> repo -> number.
-- Grain: one row per issue (repo, number); queue_position is unique.
with

readiness as (

    select * from phase_readiness

),

proposals as (

    select * from epic_proposals

),

issue_state as (

    select * from int_issue_state

),

issues as (

    select * from stg_issues

),

native_dependencies as (

    select * from issue_dependencies

),

epic_rows as (

    select * from epics

),

pull_requests as (

    select * from stg_pull_requests

),

epic_work as (

    select
        readiness.repo,
        unnest(readiness.dispatchable_children) as number,
        readiness.epic,
        readiness.current_phase as phase
    from readiness
    where readiness.count_dispatchable > 0

),

direct_work as (

    select
        proposals.repo,
        proposals.number,
        null::integer as epic,
        null::integer as phase
    from proposals
    inner join issue_state
        on issue_state.repo = proposals.repo
        and issue_state.number = proposals.number
    where proposals.is_direct_dispatch
      and not issue_state.is_dispatched
      and not issue_state.has_open_pr

),

work as (

    select *
    from (
        select * from epic_work
        union all
        select * from direct_work
    )
    qualify row_number() over (partition by repo, number order by epic nulls last) = 1

),

text_dependencies as (

    select
        work.repo,
        work.number,
        work.repo as dependency_repo,
        try_cast(unnest(regexp_extract_all(
            issues.body, '(?i)\b(?:depends\s+on|blocked\s+by)\s*:?\s*#(\d+)', 1
        )) as integer) as dependency
    from work
    inner join issues
        on issues.repo = work.repo
        and issues.number = work.number

),

linked_dependencies as (

    select
        work.repo,
        work.number,
        native_dependencies.blocked_by_repo as dependency_repo,
        native_dependencies.blocked_by as dependency
    from work
    inner join native_dependencies
        on native_dependencies.repo = work.repo
        and native_dependencies.number = work.number

),

dependencies as (

    select * from text_dependencies
    union all
    select * from linked_dependencies

),

open_dependencies as (

    select distinct
        dependencies.repo,
        dependencies.number
    from dependencies
    inner join issue_state
        on lower(issue_state.repo) = lower(dependencies.dependency_repo)
        and issue_state.number = dependencies.dependency
    where issue_state.is_open

),

repo_work as (

    select
        issue_state.repo,
        count(*) as repo_open_work
    from issue_state
    where issue_state.is_open
      and not issue_state.is_audit_issue
      and not exists (
          select 1 from epic_rows
          where epic_rows.repo = issue_state.repo
            and epic_rows.epic = issue_state.number
            and epic_rows.is_open
      )
    group by all

),

ci_rates as (

    select
        pull_requests.repo,
        coalesce(
            avg(case when pull_requests.is_merged then 1.0 else 0.0 end) filter (where pull_requests.state = 'closed'),
            avg(case when pull_requests.ci_state = 'success' then 1.0 else 0.0 end) filter (
                where pull_requests.is_open and pull_requests.ci_state in ('success', 'failure', 'error')
            )
        ) as ci_pass_rate
    from pull_requests
    group by all

),

enriched as (

    select
        work.repo,
        work.number,
        work.epic,
        work.phase,
        issue_state.title,
        issue_state.severity,
        case issue_state.severity when 'critical' then 1 when 'high' then 2 when 'medium' then 3 else 4 end
            as severity_rank,
        coalesce(repo_work.repo_open_work, 0) as repo_open_work,
        open_dependencies.number is not null as has_open_dependencies,
        ci_rates.ci_pass_rate
    from work
    inner join issue_state
        on issue_state.repo = work.repo
        and issue_state.number = work.number
    left join repo_work
        on repo_work.repo = work.repo
    left join open_dependencies
        on open_dependencies.repo = work.repo
        and open_dependencies.number = work.number
    left join ci_rates
        on ci_rates.repo = work.repo

),

final as (

    select
        ----------  ids
        enriched.repo,
        enriched.number,
        enriched.epic,

        ----------  text
        enriched.title,
        enriched.severity,

        ----------  numerics
        enriched.phase,
        enriched.severity_rank,
        enriched.repo_open_work,
        enriched.ci_pass_rate,
        row_number() over (
            order by
                least(enriched.severity_rank, 3),
                enriched.repo_open_work desc,
                enriched.has_open_dependencies,
                enriched.ci_pass_rate desc nulls last,
                enriched.repo,
                enriched.number
        ) as queue_position,

        ----------  booleans
        enriched.epic is null as is_direct_dispatch,
        enriched.has_open_dependencies

    from enriched

)

select * from final
order by queue_position
