-- Dispatches planned, with what the ledger did with each (NULL: not carried out yet).
-- Grain: one row per planned dispatch (plan_id, seq).
with

plans as (

    select * from dispatch_plans

),

actions as (

    select * from plan_actions

),

ledger as (

    select * from action_log

),

final as (

    select
        actions.plan_id,
        actions.seq,
        actions.repo,
        cast(actions.target as integer) as number,
        plans.created_at as planned_at,
        ledger.status as ledger_status
    from actions
    inner join plans on plans.plan_id = actions.plan_id
    left join ledger on ledger.plan_id = actions.plan_id and ledger.seq = actions.seq
    where actions.action = 'dispatch'

)

select * from final
