-- What spends the team's agent tasks, one row per counted task: the single definition of usage
-- that the ledger's budget, the plan, the report and `orchestrator budget` all read.
--   ledger rows:  our `dispatch` actions, pending or done, with a cost (a pending row counts: the
--                 label may already be on GitHub when a run dies); member = the ledger's member;
--   person_label: any configured agent's label (`stg_agents.labels`) added by someone other than our own login, unless one of our
--                 dispatches of the same issue (any status) is within 6 hours of it; it counts against
--                 the first member (config order) whose repos cover the repository, and not at all
--                 when nobody covers it. The same issue labelled twice is one task per window: readers
--                 count distinct `task_key`s (see `daily_usage`).
--   agent:        the agent's name (`stg_agents.agent`, lower-cased): for a ledger row the plan's
--                 `payload.agent`, else the first configured agent; for a label, the agent it belongs to.
--   usage_date:   the calendar day of `counted_at` (UTC) in the team's time zone.
--   usage_id:     'ledger:<plan_id>:<seq>' or 'event:<event_id>'; task_key: what one task is (an issue
--                 labelled twice by people is one task_key).
-- Grain: one row per counted ledger row or person's label event (usage_id).
with

ledger as (

    select * from stg_action_log

),

events as (

    select * from stg_issue_events

),

members as (

    select * from stg_team_members

),

settings as (

    select * from stg_settings

),

agents as (

    select * from stg_agents

),

planned as (

    select plan_id, seq, lower(payload->>'agent') as agent from plan_actions where action = 'dispatch'

),

dispatches as (

    select * from ledger where ledger.action = 'dispatch'

),

ledger_tasks as (

    select
        'ledger' as source,
        'ledger:' || dispatches.plan_id || ':' || dispatches.seq as usage_id,
        'ledger:' || dispatches.plan_id || ':' || dispatches.seq as task_key,
        dispatches.repo,
        dispatches.target_number as number,
        dispatches.member,
        coalesce(planned.agent, (select agents.agent from agents order by agents.position limit 1)) as agent,
        dispatches.cost,
        dispatches.executed_at as counted_at
    from dispatches
    left join planned on planned.plan_id = dispatches.plan_id and planned.seq = dispatches.seq
    where dispatches.status in ('pending', 'done')
      and dispatches.cost > 0
      and dispatches.member is not null

),

agent_labels as (

    -- a label two agents share counts once, for the first of them (config order)
    select events.*, agents.agent as agent_name
    from events
    cross join settings
    inner join agents on list_contains(agents.labels, lower(events.label))
    where events.event = 'labeled'
      and (settings.own_login = '' or coalesce(lower(events.actor), '') <> settings.own_login)
    qualify row_number() over (partition by events.event_id order by agents.position) = 1

),

person_labels as (

    -- a label within 6 hours of our own dispatch of the issue is that dispatch, seen on GitHub
    select agent_labels.*
    from agent_labels
    where not exists (
        select 1
        from dispatches
        where dispatches.repo = agent_labels.repo
          and dispatches.target_number = agent_labels.number
          and abs(epoch(dispatches.executed_at) - epoch(agent_labels.created_at)) <= 6 * 3600
    )

),

person_label_members as (

    select
        person_labels.event_id,
        arg_min(members.login, members.position) as member
    from person_labels
    inner join members
        on list_contains(members.repo_names, '*')
        or list_contains(members.repo_names, lower(regexp_extract(person_labels.repo, '([^/]+)$', 1)))
    group by person_labels.event_id

),

person_tasks as (

    select
        'person_label' as source,
        'event:' || person_labels.event_id as usage_id,
        'label:' || person_labels.repo || '#' || person_labels.number as task_key,
        person_labels.repo,
        person_labels.number,
        person_label_members.member,
        person_labels.agent_name as agent,
        1 as cost,
        person_labels.created_at as counted_at
    from person_labels
    inner join person_label_members on person_label_members.event_id = person_labels.event_id

),

counted as (

    select * from ledger_tasks
    union all
    select * from person_tasks

),

final as (

    select
        counted.usage_id,
        counted.source,
        counted.task_key,
        counted.repo,
        counted.number,
        counted.member,
        counted.agent,
        counted.cost,
        counted.counted_at,
        timezone(settings.timezone, timezone('UTC', counted.counted_at))::date as usage_date
    from counted
    cross join settings

)

select * from final
