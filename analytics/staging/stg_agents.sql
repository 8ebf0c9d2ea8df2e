-- The agents as configured (`[agent]` or `[[agents]]`), from `run_settings` key `agents` (a JSON
-- list written by common.agents.recognition_settings: each agent's name, kind and the signs that
-- an issue or PR is its work, lower-cased). A database written before that key has one agent,
-- built from `stg_settings.agent_labels` / `agent_assignees`. Renames and casts only.
-- Grain: one row per agent (name).
with

source as (

    select value from run_settings where key = 'agents' and trim(value) not in ('', '[]')

),

parsed as (

    select
        unnest(from_json(
            source.value,
            '[{"name": "VARCHAR", "kind": "VARCHAR", "labels": ["VARCHAR"], "assignees": ["VARCHAR"],
               "pr_authors": ["VARCHAR"], "branch_prefixes": ["VARCHAR"]}]'
        )) as agent
    from source

),

configured as (

    select
        lower(agent.name) as agent,
        agent.kind as kind,
        coalesce(agent.labels, []) as labels,
        coalesce(agent.assignees, []) as assignees,
        coalesce(agent.pr_authors, []) as pr_authors,
        coalesce(agent.branch_prefixes, []) as branch_prefixes
    from parsed

),

-- a database from before the `agents` key: its one agent, named as common.agents names it
legacy as (

    select
        coalesce(agent_assignees[1], agent_labels[1]) as agent,
        case when len(agent_assignees) > 0 then 'assignee' else 'label' end as kind,
        agent_labels as labels,
        agent_assignees as assignees,
        [coalesce(agent_assignees[1], agent_labels[1]) || '[bot]'] as pr_authors,
        [coalesce(agent_assignees[1], agent_labels[1]) || '/', coalesce(agent_assignees[1], agent_labels[1]) || '-']
            as branch_prefixes
    from stg_settings
    where not exists (select 1 from configured)

),

final as (

    select *, row_number() over () as position from configured
    union all
    select *, 1 as position from legacy

)

select * from final
