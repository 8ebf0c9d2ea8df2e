-- Settings the views read, from `run_settings` (key, value) with defaults for missing keys
-- (defaults are rendered in from analytics.views.SETTINGS_DEFAULTS by its `default:<key>` placeholders).
-- A value that does not cast to its type falls back to the default too.
-- Grain: exactly one row.
with

source as (

    select * from run_settings

),

pivoted as (

    select
        max(value) filter (where key = 'agent_label') as agent_label,
        max(value) filter (where key = 'agent_assignee') as agent_assignee,
        max(value) filter (where key = 'agent_labels') as agent_labels,
        max(value) filter (where key = 'agent_assignees') as agent_assignees,
        max(value) filter (where key = 'stale_pr_days') as stale_pr_days,
        max(value) filter (where key = 'abandoned_after_days') as abandoned_after_days,
        max(value) filter (where key = 'escalate_after_nudges') as escalate_after_nudges,
        max(value) filter (where key = 'direct_dispatch_below') as direct_dispatch_below,
        max(value) filter (where key = 'themed_epics_from') as themed_epics_from,
        max(value) filter (where key = 'epic_min_children') as epic_min_children,
        max(value) filter (where key = 'epic_max_children') as epic_max_children,
        max(value) filter (where key = 'tier1_min_open') as tier1_min_open,
        max(value) filter (where key = 'tier2_min_open') as tier2_min_open,
        max(value) filter (where key = 'tier3_min_open') as tier3_min_open,
        max(value) filter (where key = 'epic_branch_max_behind') as epic_branch_max_behind,
        max(value) filter (where key = 'token_login') as token_login,
        max(value) filter (where key = 'trusted_logins') as trusted_logins,
        max(value) filter (where key = 'trusted_associations') as trusted_associations,
        max(value) filter (where key = 'timezone') as timezone
    from source

),

typed as (

    select
        ----------  text
        lower(coalesce(nullif(trim(agent_label), ''), {{ default:agent_label }})) as agent_label,
        lower(coalesce(nullif(trim(agent_assignee), ''), {{ default:agent_assignee }})) as agent_assignee,
        -- the own identity: '' (nobody) until a snapshot or execute has asked GitHub who the token is
        lower(coalesce(nullif(trim(token_login), ''), {{ default:token_login }})) as own_login,
        -- the team's day boundary (an IANA zone name): usage is counted per calendar day there
        coalesce(nullif(trim(timezone), ''), {{ default:timezone }}) as timezone,

        ----------  lists
        -- how the agent back-end is recognised (common/agents.py `recognition()`): its labels and
        -- accounts, comma-separated; a database written before these keys uses agent_label/_assignee
        [
            lower(trim(name))
            for name in string_split(
                coalesce(nullif(trim(agent_labels), ''), nullif(trim(agent_label), ''), {{ default:agent_label }}), ','
            )
            if trim(name) <> ''
        ] as agent_labels,
        [
            lower(trim(name))
            for name in string_split(
                coalesce(nullif(trim(agent_assignees), ''), nullif(trim(agent_assignee), ''), {{ default:agent_assignee }}),
                ','
            )
            if trim(name) <> ''
        ] as agent_assignees,
        [
            lower(trim(name))
            for name in string_split(coalesce(trusted_logins, {{ default:trusted_logins }}), ',')
            if trim(name) <> ''
        ] as trusted_logins,
        [
            upper(trim(name))
            for name in string_split(coalesce(trusted_associations, {{ default:trusted_associations }}), ',')
            if trim(name) <> ''
        ] as trusted_associations,

        ----------  numerics
        coalesce(try_cast(stale_pr_days as double), {{ default:stale_pr_days }}::double)
            as stale_pr_days,
        -- a dispatch with no pull request this long after it is `abandoned` in `outcomes`
        coalesce(try_cast(abandoned_after_days as double), {{ default:abandoned_after_days }}::double)
            as abandoned_after_days,
        coalesce(try_cast(escalate_after_nudges as integer), {{ default:escalate_after_nudges }}::integer)
            as escalate_after_nudges,
        coalesce(try_cast(direct_dispatch_below as integer), {{ default:direct_dispatch_below }}::integer)
            as direct_dispatch_below,
        coalesce(try_cast(themed_epics_from as integer), {{ default:themed_epics_from }}::integer)
            as themed_epics_from,
        coalesce(try_cast(epic_min_children as integer), {{ default:epic_min_children }}::integer)
            as epic_min_children,
        coalesce(try_cast(epic_max_children as integer), {{ default:epic_max_children }}::integer)
            as epic_max_children,
        coalesce(try_cast(tier1_min_open as integer), {{ default:tier1_min_open }}::integer)
            as tier1_min_open,
        coalesce(try_cast(tier2_min_open as integer), {{ default:tier2_min_open }}::integer)
            as tier2_min_open,
        coalesce(try_cast(tier3_min_open as integer), {{ default:tier3_min_open }}::integer)
            as tier3_min_open,
        coalesce(try_cast(epic_branch_max_behind as integer), {{ default:epic_branch_max_behind }}::integer)
            as epic_branch_max_behind

    from pivoted

)

select * from typed
