-- Where each epic stands: the current phase (lowest phase with an open child), its progress,
-- and the children that can be dispatched now.
--   done = closed children, total = every listed child (missing ones included);
--   done_by_phase / total_by_phase: lists indexed by phase (element k is phase k);
--   dispatchable_children: open issue children of the current phase of an OPEN epic that are not
--   dispatched and have no open PR, by number.
-- Grain: one row per epic (repo, epic).
with

epic_rows as (

    select * from epics

),

children as (

    select * from epic_children

),

by_phase as (

    select
        children.repo,
        children.epic,
        children.phase,
        count(*) as count_total,
        count(*) filter (where children.child_state = 'closed') as count_done,
        count(*) filter (where children.child_state = 'open') as count_open
    from children
    group by all

),

by_epic as (

    select
        by_phase.repo,
        by_phase.epic,
        min(by_phase.phase) filter (where by_phase.count_open > 0) as current_phase,
        list(by_phase.count_done order by by_phase.phase) as done_by_phase,
        list(by_phase.count_total order by by_phase.phase) as total_by_phase
    from by_phase
    group by all

),

current_children as (

    select
        children.*,
        epic_rows.is_open as is_epic_open
    from children
    inner join by_epic
        on by_epic.repo = children.repo
        and by_epic.epic = children.epic
        and by_epic.current_phase = children.phase
    inner join epic_rows
        on epic_rows.repo = children.repo
        and epic_rows.epic = children.epic

),

current_work as (

    select
        current_children.repo,
        current_children.epic,
        list(current_children.child order by current_children.child) filter (
            where current_children.is_epic_open
              and current_children.child_state = 'open'
              and not current_children.child_is_pr
              and not current_children.is_dispatched
              and not current_children.has_open_pr
        ) as dispatchable_children,
        count(*) filter (
            where current_children.child_state = 'open'
              and (current_children.is_dispatched or current_children.has_open_pr)
        ) as count_in_flight
    from current_children
    group by all

),

final as (

    select
        ----------  ids
        epic_rows.repo,
        epic_rows.epic,

        ----------  text
        epic_rows.title,
        epic_rows.state,
        epic_rows.branch,

        ----------  phases
        by_epic.current_phase::integer as current_phase,
        epic_rows.count_phases,
        by_epic.done_by_phase[by_epic.current_phase] as count_done_current_phase,
        by_epic.total_by_phase[by_epic.current_phase] as count_total_current_phase,
        by_epic.done_by_phase,
        by_epic.total_by_phase,
        coalesce(current_work.dispatchable_children, []::integer[]) as dispatchable_children,

        ----------  numerics
        coalesce(len(current_work.dispatchable_children), 0) as count_dispatchable,
        coalesce(current_work.count_in_flight, 0) as count_in_flight,
        epic_rows.count_children,
        epic_rows.count_open,

        ----------  booleans
        by_epic.current_phase is null as complete,
        epic_rows.is_open as is_epic_open

    from epic_rows
    inner join by_epic
        on by_epic.repo = epic_rows.repo
        and by_epic.epic = epic_rows.epic
    left join current_work
        on current_work.repo = epic_rows.repo
        and current_work.epic = epic_rows.epic

)

select * from final
