-- Which stage each repo is at and where it stands in the runbook's "Priority Order".
--   count_open: open issues (not PRs, audits and epics included); count_audits: open audit issues
--   a trusted author wrote (an outsider's "[Audit]" never makes a repo stage 1);
--   count_epics: open epics;
--   stage: 'stage 1 ready' (has audits) > 'stage 3' (has open epics) > 'stage 2' (open issues) > 'idle';
--   tier: 1 = audits and >= tier1_min_open open; 2 = audits and >= tier2_min_open open;
--         3 = no audits and >= tier3_min_open open (feature repos); 4 = the rest with audits or
--         open issues; NULL when idle. rank: by tier, then most open issues, most audits, name.
-- Grain: one row per repo (repo), every repo known from `repositories` or from issues.
with

repositories as (

    select * from stg_repositories

),

issue_state as (

    select * from int_issue_state

),

epic_rows as (

    select * from epics

),

settings as (

    select * from stg_settings

),

repos as (

    select repositories.repo from repositories
    union
    select issue_state.repo from issue_state

),

issue_counts as (

    select
        issue_state.repo,
        count(*) filter (where issue_state.is_open) as count_open,
        count(*) filter (
            where issue_state.is_open and issue_state.is_audit_issue and issue_state.is_trusted
        ) as count_audits
    from issue_state
    group by all

),

epic_counts as (

    select
        epic_rows.repo,
        count(*) filter (where epic_rows.is_open) as count_epics
    from epic_rows
    group by all

),

counted as (

    select
        repos.repo,
        coalesce(issue_counts.count_open, 0) as count_open,
        coalesce(issue_counts.count_audits, 0) as count_audits,
        coalesce(epic_counts.count_epics, 0) as count_epics
    from repos
    left join issue_counts
        on issue_counts.repo = repos.repo
    left join epic_counts
        on epic_counts.repo = repos.repo

),

tiered as (

    select
        counted.*,
        case
            when counted.count_audits > 0 then 'stage 1 ready'
            when counted.count_epics > 0 then 'stage 3'
            when counted.count_open > 0 then 'stage 2'
            else 'idle'
        end as stage,
        case
            when counted.count_audits > 0 and counted.count_open >= settings.tier1_min_open then 1
            when counted.count_audits > 0 and counted.count_open >= settings.tier2_min_open then 2
            when counted.count_audits = 0 and counted.count_open >= settings.tier3_min_open then 3
            when counted.count_audits > 0 or counted.count_open > 0 then 4
        end as tier
    from counted
    cross join settings

),

final as (

    select
        ----------  ids
        tiered.repo,

        ----------  text
        tiered.stage,

        ----------  numerics
        tiered.tier,
        case
            when tiered.tier is not null then row_number() over (
                order by tiered.tier nulls last, tiered.count_open desc, tiered.count_audits desc, tiered.repo
            )
        end as rank,
        tiered.count_open,
        tiered.count_audits,
        tiered.count_epics

    from tiered

)

select * from final
