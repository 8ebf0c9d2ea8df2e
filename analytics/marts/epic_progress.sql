-- Epics with their current phase and what is ready or in flight (the report's "Epic progress").
-- Grain: one row per epic (repo, epic).
with

epic_rows as (

    select * from epics

),

readiness as (

    select * from phase_readiness

),

final as (

    select
        epic_rows.repo,
        epic_rows.epic,
        epic_rows.title,
        epic_rows.html_url,
        epic_rows.is_open,
        epic_rows.branch,
        epic_rows.count_children,
        epic_rows.count_closed,
        epic_rows.count_open,
        epic_rows.count_phases,
        readiness.current_phase,
        readiness.count_dispatchable,
        readiness.count_in_flight
    from epic_rows
    left join readiness on readiness.repo = epic_rows.repo and readiness.epic = epic_rows.epic

)

select * from final
