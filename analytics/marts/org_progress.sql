-- The organisation's headline figures (what `orchestrator demo` shows before and after the loop).
--   count_audits: audit issues (open or closed); count_children_with_agent: open epic children
--   dispatched to the agent.
-- Grain: one row per organisation with repositories in the snapshot (org).
with

repositories as (

    select * from stg_repositories

),

orgs as (

    select distinct split_part(repositories.repo, '/', 1) as org from repositories

),

audits as (

    select split_part(repo, '/', 1) as org, count(*) as count_audits from audit_issues group by all

),

open_issues as (

    select split_part(repo, '/', 1) as org, count(*) as count_open_issues
    from issues
    where state = 'open'
    group by all

),

open_epics as (

    select split_part(repo, '/', 1) as org, count(*) as count_open_epics from epics where is_open group by all

),

children_with_agent as (

    select split_part(repo, '/', 1) as org, count(*) as count_children_with_agent
    from epic_children
    where is_dispatched and child_state = 'open'
    group by all

),

stuck as (

    select split_part(repo, '/', 1) as org, count(*) as count_stuck_prs from stuck_prs where is_stuck group by all

),

ready as (

    select split_part(repo, '/', 1) as org, count(*) as count_ready from ready_queue group by all

),

final as (

    select
        orgs.org,
        coalesce(audits.count_audits, 0) as count_audits,
        coalesce(open_issues.count_open_issues, 0) as count_open_issues,
        coalesce(open_epics.count_open_epics, 0) as count_open_epics,
        coalesce(children_with_agent.count_children_with_agent, 0) as count_children_with_agent,
        coalesce(stuck.count_stuck_prs, 0) as count_stuck_prs,
        coalesce(ready.count_ready, 0) as count_ready
    from orgs
    left join audits on audits.org = orgs.org
    left join open_issues on open_issues.org = orgs.org
    left join open_epics on open_epics.org = orgs.org
    left join children_with_agent on children_with_agent.org = orgs.org
    left join stuck on stuck.org = orgs.org
    left join ready on ready.org = orgs.org

)

select * from final
