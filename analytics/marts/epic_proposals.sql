-- How the runbook's Stage 2 would group each repo's open implementation issues into epics.
-- Implementation issues: open issues labelled `audit` or carrying a `severity:`/`type:` label,
-- that are not audits, not epics and not children of an open epic. Per repo (n of them):
--   n < direct_dispatch_below (3)   -> 'dispatch directly' (no epic: proposal_id NULL);
--   n < themed_epics_from (10)      -> one epic per repo (theme 'audit');
--   otherwise                       -> feature issues (no `audit` label) sharing a subsystem label
--                                      (`area:`/`subsystem:`/`component:`) 3+ times form
--                                      'feature:<subsystem>' epics; the rest is themed by `type:`
--                                      (security, quality, testing, docs, other); a theme under
--                                      epic_min_children (3) folds into 'other', and an 'other'
--                                      still under it folds into the largest theme.
-- Every theme is cut into ceil(n / epic_max_children) balanced epics (<= 10 children each).
-- phase: 1 for critical/high or security, 3 for docs or low, else 2.
-- proposal_id: '<repo>:<theme>:<part>'. Grain: one row per implementation issue (repo, number).
with

issue_state as (

    select * from int_issue_state

),

epic_rows as (

    select * from epics

),

children as (

    select * from epic_children

),

settings as (

    select * from stg_settings

),

open_epic_children as (

    select distinct
        children.repo,
        children.child
    from children
    inner join epic_rows
        on epic_rows.repo = children.repo
        and epic_rows.epic = children.epic
    where epic_rows.is_open

),

candidates as (

    select
        issue_state.repo,
        issue_state.number,
        issue_state.title,
        issue_state.severity,
        issue_state.type,
        issue_state.subsystem,
        issue_state.is_audit_labelled,
        case issue_state.severity when 'critical' then 1 when 'high' then 2 when 'medium' then 3 else 4 end
            as severity_rank,
        case
            when issue_state.severity in ('critical', 'high') or issue_state.type = 'security' then 1
            when issue_state.type in ('docs', 'documentation') or issue_state.severity = 'low' then 3
            else 2
        end as phase,
        case
            when issue_state.type = 'security' then 'security'
            when issue_state.type in ('quality', 'refactor', 'refactoring', 'maintainability', 'style') then 'quality'
            when issue_state.type in ('testing', 'test', 'tests') then 'testing'
            when issue_state.type in ('docs', 'documentation') then 'docs'
            else 'other'
        end as type_theme
    from issue_state
    where issue_state.is_open
      and not issue_state.is_audit_issue
      and (
          issue_state.is_audit_labelled
          or issue_state.type is not null
          or [label for label in issue_state.labels if starts_with(lower(trim(label)), 'severity:')] <> []
      )
      and not exists (
          select 1 from epic_rows
          where epic_rows.repo = issue_state.repo
            and epic_rows.epic = issue_state.number
            and epic_rows.is_open
      )
      and not exists (
          select 1 from open_epic_children
          where open_epic_children.repo = issue_state.repo
            and open_epic_children.child = issue_state.number
      )

),

sized as (

    select
        candidates.*,
        count(*) over (partition by candidates.repo) as count_repo_issues,
        sum(case when not candidates.is_audit_labelled then 1 else 0 end) over (
            partition by candidates.repo, candidates.subsystem
        ) as count_subsystem_features
    from candidates

),

first_theme as (

    select
        sized.*,
        case
            when sized.count_repo_issues < settings.direct_dispatch_below then 'dispatch directly'
            when sized.count_repo_issues < settings.themed_epics_from then 'audit'
            when not sized.is_audit_labelled
                and sized.subsystem is not null
                and sized.count_subsystem_features >= settings.epic_min_children
                then 'feature:' || sized.subsystem
            else sized.type_theme
        end as theme_1,
        settings.epic_min_children,
        settings.epic_max_children
    from sized
    cross join settings

),

small_folded as (

    select
        first_theme.*,
        case
            when first_theme.theme_1 in ('security', 'quality', 'testing', 'docs')
                and count(*) over (partition by first_theme.repo, first_theme.theme_1) < first_theme.epic_min_children
                then 'other'
            else first_theme.theme_1
        end as theme_2
    from first_theme

),

theme_sizes as (

    select
        small_folded.repo,
        small_folded.theme_2,
        count(*) as count_theme
    from small_folded
    group by all

),

largest_themes as (

    select
        theme_sizes.repo,
        theme_sizes.theme_2 as largest_theme
    from theme_sizes
    where theme_sizes.theme_2 in ('security', 'quality', 'testing', 'docs')
    qualify row_number() over (
        partition by theme_sizes.repo order by theme_sizes.count_theme desc, theme_sizes.theme_2
    ) = 1

),

themed as (

    select
        small_folded.*,
        case
            when small_folded.theme_2 = 'other'
                and other_sizes.count_theme < small_folded.epic_min_children
                and largest_themes.largest_theme is not null
                then largest_themes.largest_theme
            else small_folded.theme_2
        end as theme
    from small_folded
    left join theme_sizes as other_sizes
        on other_sizes.repo = small_folded.repo
        and other_sizes.theme_2 = 'other'
    left join largest_themes
        on largest_themes.repo = small_folded.repo

),

chunked as (

    select
        themed.*,
        row_number() over (
            partition by themed.repo, themed.theme
            order by themed.phase, themed.severity_rank, themed.number
        ) as position_in_theme,
        count(*) over (partition by themed.repo, themed.theme) as count_theme,
        ceil(count(*) over (partition by themed.repo, themed.theme) / themed.epic_max_children)::integer
            as count_parts
    from themed

),

parted as (

    select
        chunked.*,
        ((chunked.position_in_theme - 1) * chunked.count_parts // chunked.count_theme + 1)::integer as part
    from chunked

),

final as (

    select
        ----------  ids
        parted.repo,
        case
            when parted.theme <> 'dispatch directly' then parted.repo || ':' || parted.theme || ':' || parted.part
        end as proposal_id,
        parted.number,

        ----------  text
        parted.theme,
        case
            when parted.theme = 'dispatch directly' then null
            else (
                case
                    when parted.theme = 'audit' then 'epic(audit): Audit findings implementation'
                    when parted.theme = 'security' then 'epic(security): Security fixes'
                    when parted.theme = 'quality' then 'epic(quality): Code quality'
                    when parted.theme = 'testing' then 'epic(testing): Test coverage'
                    when parted.theme = 'docs' then 'epic(docs): Documentation'
                    when parted.theme = 'other' then 'epic(other): Other improvements'
                    else 'epic(' || parted.subsystem || '): ' || parted.subsystem || ' features'
                end
                || case
                    when parted.count_parts > 1 then ' (part ' || parted.part || ' of ' || parted.count_parts || ')'
                    else ''
                end
            )
        end as proposed_title,
        parted.title,
        parted.severity,
        parted.type,
        parted.subsystem,

        ----------  numerics
        parted.phase,
        parted.severity_rank,
        count(*) over (partition by parted.repo, parted.theme, parted.part) as count_proposal_children,
        parted.count_repo_issues,

        ----------  booleans
        parted.theme = 'dispatch directly' as is_direct_dispatch

    from parted

)

select * from final
