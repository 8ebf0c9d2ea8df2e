-- The first done `dispatch` of each issue in the ledger (analytics/forecast_inputs.py `ledger`).
-- Grain: one row per dispatched issue (repo, number).
with

ledger as (

    select * from stg_action_log

),

dispatched as (

    select
        ledger.repo,
        ledger.target_number as number,
        min(ledger.executed_at) as first_at
    from ledger
    where ledger.action = 'dispatch'
      and ledger.is_done
      and ledger.target_number is not null
    group by all

),

final as (

    select * from dispatched

)

select * from final
