-- Agent tasks used per day, member and agent: what the budget counts (see `usage_events`), by
-- calendar day in the team's time zone. An issue a person labelled twice in a day is one task.
--   count_tasks:          what the day spent against the pool (ledger cost + person labels);
--   count_dispatched:     the ledger's part (our dispatches, pending or done);
--   count_person_labels:  the part people added by hand.
-- Grain: one row per (usage_date, member, agent).
with

usage as (

    select * from usage_events

),

ledger_days as (

    select usage.usage_date, usage.member, usage.agent, sum(usage.cost) as tasks
    from usage
    where usage.source = 'ledger'
    group by all

),

person_days as (

    select usage.usage_date, usage.member, usage.agent,
           count(distinct usage.task_key) as tasks
    from usage
    where usage.source = 'person_label'
    group by all

),

final as (

    select
        usage_date,
        member,
        agent,
        (coalesce(ledger_days.tasks, 0) + coalesce(person_days.tasks, 0))::integer as count_tasks,
        coalesce(ledger_days.tasks, 0)::integer as count_dispatched,
        coalesce(person_days.tasks, 0)::integer as count_person_labels
    from ledger_days
    full outer join person_days using (usage_date, member, agent)

)

select * from final
