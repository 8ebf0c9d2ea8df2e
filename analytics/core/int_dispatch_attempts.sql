-- Dispatch attempts: the signals of `int_dispatch_signals` grouped into attempts per issue. A
-- signal starts a new attempt when it is the issue's first, names another agent than the signal
-- before it, or is a label/assignee signal after the attempt before it ended: a linked pull request
-- was closed (merged or not) since that signal, or no pull request came within
-- `stg_settings.abandoned_after_days` of it. A repeated label, or one removed and added again, on
-- a running attempt is the same attempt; a PR by the same agent joins the running attempt.
--   attempt:        1, 2, ... per issue, in time order;
--   dispatched_at:  the attempt's first signal; ends_at: the next attempt's start (null: the last).
-- Grain: one row per (repo, number, attempt).
with

signals as (

    select * from int_dispatch_signals

),

issues as (

    select * from stg_issues

),

links as (

    select * from int_pr_issue_links

),

pull_requests as (

    select * from stg_pull_requests

),

settings as (

    select * from stg_settings

),

issue_signals as (

    select
        signals.*,
        lag(signals.agent) over issue_order as previous_agent,
        lag(signals.signal_at) over issue_order as previous_at
    from signals
    inner join issues
        on issues.repo = signals.repo
        and issues.number = signals.number
    window issue_order as (partition by signals.repo, signals.number order by signals.signal_at, signals.signal_id)

),

linked_prs as (

    select distinct
        links.repo,
        links.issue_number as number,
        pull_requests.number as pr_number,
        pull_requests.created_at,
        pull_requests.closed_at
    from links
    inner join pull_requests
        on pull_requests.repo = links.repo
        and pull_requests.number = links.pr_number

),

flagged as (

    select
        issue_signals.*,
        issue_signals.previous_agent is null
            or issue_signals.previous_agent <> issue_signals.agent
            or (issue_signals.signal <> 'pr' and (
                exists (
                    select 1 from linked_prs
                    where linked_prs.repo = issue_signals.repo
                      and linked_prs.number = issue_signals.number
                      and linked_prs.closed_at > issue_signals.previous_at
                      and linked_prs.closed_at <= issue_signals.signal_at
                )
                or (
                    epoch(issue_signals.signal_at) - epoch(issue_signals.previous_at)
                        > settings.abandoned_after_days * 86400
                    and not exists (
                        select 1 from linked_prs
                        where linked_prs.repo = issue_signals.repo
                          and linked_prs.number = issue_signals.number
                          and linked_prs.created_at > issue_signals.previous_at
                          and linked_prs.created_at <= issue_signals.signal_at
                    )
                )
            )) as is_new_attempt
    from issue_signals
    cross join settings

),

numbered as (

    select
        flagged.*,
        sum(case when flagged.is_new_attempt then 1 else 0 end) over (
            partition by flagged.repo, flagged.number order by flagged.signal_at, flagged.signal_id
            rows between unbounded preceding and current row
        )::integer as attempt
    from flagged

),

attempts as (

    select
        numbered.repo,
        numbered.number,
        numbered.attempt,
        arg_min(numbered.agent, (numbered.signal_at, numbered.signal_id)) as agent,
        arg_min(numbered.signal, (numbered.signal_at, numbered.signal_id)) as first_signal,
        arg_min(numbered.actor, (numbered.signal_at, numbered.signal_id)) as actor,
        min(numbered.signal_at) as dispatched_at,
        count(*) as count_signals
    from numbered
    group by all

),

final as (

    select
        attempts.*,
        lead(attempts.dispatched_at) over (
            partition by attempts.repo, attempts.number order by attempts.attempt
        ) as ends_at
    from attempts

)

select * from final
