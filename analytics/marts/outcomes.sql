-- What each dispatch came to: the training data set (`orchestrator export outcomes`) and the
-- measured success routing learns from. One attempt of `int_dispatch_attempts` per row, whoever
-- dispatched it (`dispatched_by`: 'pipeline' when our ledger or our own login did, else 'person').
--   agent:          the configured agent's name (`stg_agents`), from GitHub's own record;
--   member:         the ledger's member; else the person who labelled, when on the team; else the
--                   first member (config order) whose repos cover the repository;
--   language:       the repository's primary language (GitHub's `language`);
--   severity/type/complexity: the issue's `severity:`/`type:`/`complexity:` labels (null: unknown);
--   epic/phase:     the epic the issue is a child of, and its phase there;
--   pr_*:           the attempt's pull request: a linked PR (int_pr_issue_links) opened from an hour
--                   before the dispatch until the next attempt, the agent's own first (by author or
--                   branch), then a merged one, an open one, the latest;
--   ci_failures:    distinct head commits of that PR seen with failing CI; nudges: our done
--                   `nudge_pr` actions on it; review_rounds: distinct head commits seen with changes
--                   requested (at least the reviewers requesting changes now);
--   outcome:        'merged' | 'closed_unmerged' (the PR closed unmerged) | 'in_flight' (the PR is
--                   open, or no PR yet and younger than `abandoned_after_days`) | 'abandoned' (no PR
--                   after `abandoned_after_days`, or the issue closed or re-dispatched without one);
--   hours_to_pr, hours_to_merge: cycle times from the dispatch.
-- "Now" is the latest complete snapshot's GitHub clock.
-- Grain: one row per dispatch attempt (repo, number, attempt).
with

attempts as (

    select * from int_dispatch_attempts

),

signals as (

    select * from int_dispatch_signals

),

issues as (

    select * from stg_issues

),

repositories as (

    select * from stg_repositories

),

links as (

    select * from int_pr_issue_links

),

pull_requests as (

    select * from stg_pull_requests

),

pr_history as (

    select * from pull_request_history

),

ledger as (

    select * from stg_action_log

),

members as (

    select * from stg_team_members

),

children as (

    select * from epic_children

),

settings as (

    select * from stg_settings

),

snapshot_runs as (

    select * from stg_snapshot_runs

),

clock as (

    select coalesce(max(snapshot_runs.snapshot_clock), current_timestamp::timestamp) as now_at
    from snapshot_runs
    where snapshot_runs.is_complete

),

agent_prs as (

    select distinct signals.repo, signals.pr_number, signals.agent
    from signals
    where signals.signal = 'pr'

),

candidates as (

    select distinct
        attempts.repo,
        attempts.number,
        attempts.attempt,
        pull_requests.number as pr_number,
        pull_requests.created_at as pr_opened_at,
        pull_requests.merged_at,
        pull_requests.closed_at as pr_closed_at,
        pull_requests.is_merged,
        pull_requests.is_open,
        coalesce(len(pull_requests.changes_requested_by), 0) as count_changes_requested,
        agent_prs.agent is not null as is_agent_pr
    from attempts
    inner join links
        on links.repo = attempts.repo
        and links.issue_number = attempts.number
    inner join pull_requests
        on pull_requests.repo = links.repo
        and pull_requests.number = links.pr_number
    left join agent_prs
        on agent_prs.repo = pull_requests.repo
        and agent_prs.pr_number = pull_requests.number
        and agent_prs.agent = attempts.agent
    left join agent_prs as other_agent_prs
        on other_agent_prs.repo = pull_requests.repo
        and other_agent_prs.pr_number = pull_requests.number
        and other_agent_prs.agent <> attempts.agent
    where pull_requests.created_at >= attempts.dispatched_at - interval 1 hour
      and (attempts.ends_at is null or pull_requests.created_at < attempts.ends_at)
      and (agent_prs.agent is not null or other_agent_prs.agent is null)

),

chosen_prs as (

    select *
    from candidates
    qualify row_number() over (
        partition by candidates.repo, candidates.number, candidates.attempt
        order by candidates.is_agent_pr desc, candidates.is_merged desc, candidates.is_open desc,
            candidates.pr_opened_at desc, candidates.pr_number desc
    ) = 1

),

pr_rounds as (

    select
        pr_history.repo,
        pr_history.number as pr_number,
        count(distinct pr_history.head_sha) filter (where lower(pr_history.ci_state) in ('failure', 'error'))
            as ci_failures,
        count(distinct pr_history.head_sha) filter (where upper(pr_history.review_decision) = 'CHANGES_REQUESTED')
            as review_rounds
    from pr_history
    group by all

),

nudges as (

    select ledger.repo, ledger.target_number as pr_number, count(*) as nudges
    from ledger
    where ledger.action = 'nudge_pr' and ledger.is_done
    group by all

),

ledger_dispatches as (

    -- our dispatch of the issue within 6 hours of the attempt's start is that attempt
    select
        attempts.repo,
        attempts.number,
        attempts.attempt,
        arg_min(ledger.member, abs(epoch(ledger.executed_at) - epoch(attempts.dispatched_at))) as member
    from attempts
    inner join ledger
        on ledger.repo = attempts.repo
        and ledger.target_number = attempts.number
        and ledger.action = 'dispatch'
        and ledger.status in ('pending', 'done')
        and abs(epoch(ledger.executed_at) - epoch(attempts.dispatched_at)) <= 6 * 3600
    group by all

),

covering_members as (

    select
        attempts.repo,
        attempts.number,
        attempts.attempt,
        arg_min(members.login, members.position) as member
    from attempts
    inner join members
        on list_contains(members.repo_names, '*')
        or list_contains(members.repo_names, lower(regexp_extract(attempts.repo, '([^/]+)$', 1)))
    group by all

),

issue_features as (

    select
        issues.repo,
        issues.number,
        issues.is_open as is_issue_open,
        issues.closed_at as issue_closed_at,
        nullif(lower(list_first(list_filter(issues.labels, lambda l: lower(l) like 'severity:%'))[10:]), '') as severity,
        nullif(lower(list_first(list_filter(issues.labels, lambda l: lower(l) like 'type:%'))[6:]), '') as type,
        nullif(lower(list_first(list_filter(issues.labels, lambda l: lower(l) like 'complexity:%'))[12:]), '')
            as complexity
    from issues

),

issue_epics as (

    select
        children.repo,
        children.child as number,
        min(children.epic) as epic,
        arg_min(children.phase, children.epic) as phase
    from children
    where not children.child_is_pr
    group by all

),

joined as (

    select
        attempts.repo,
        attempts.number,
        attempts.attempt,
        attempts.agent,
        coalesce(
            ledger_dispatches.member,
            (select members.login from members where lower(members.login) = attempts.actor limit 1),
            covering_members.member
        ) as member,
        case
            when ledger_dispatches.member is not null
                or (settings.own_login <> '' and attempts.actor = settings.own_login) then 'pipeline'
            else 'person'
        end as dispatched_by,
        attempts.first_signal,
        attempts.dispatched_at,
        repositories.language,
        issue_features.severity,
        issue_features.type,
        issue_features.complexity,
        issue_epics.epic,
        issue_epics.phase,
        chosen_prs.pr_number,
        chosen_prs.pr_opened_at,
        coalesce(pr_rounds.ci_failures, 0)::integer as ci_failures,
        coalesce(nudges.nudges, 0)::integer as nudges,
        greatest(coalesce(pr_rounds.review_rounds, 0), coalesce(chosen_prs.count_changes_requested, 0))::integer
            as review_rounds,
        chosen_prs.merged_at,
        chosen_prs.pr_closed_at as closed_at,
        case
            when chosen_prs.is_merged then 'merged'
            when chosen_prs.pr_number is not null and chosen_prs.is_open then 'in_flight'
            when chosen_prs.pr_number is not null then 'closed_unmerged'
            when attempts.ends_at is not null
                or not coalesce(issue_features.is_issue_open, true)
                or epoch(clock.now_at) - epoch(attempts.dispatched_at) > settings.abandoned_after_days * 86400
                then 'abandoned'
            else 'in_flight'
        end as outcome,
        round((epoch(chosen_prs.pr_opened_at) - epoch(attempts.dispatched_at)) / 3600, 2) as hours_to_pr,
        round((epoch(chosen_prs.merged_at) - epoch(attempts.dispatched_at)) / 3600, 2) as hours_to_merge
    from attempts
    cross join settings
    cross join clock
    left join repositories on repositories.repo = attempts.repo
    left join issue_features
        on issue_features.repo = attempts.repo
        and issue_features.number = attempts.number
    left join issue_epics
        on issue_epics.repo = attempts.repo
        and issue_epics.number = attempts.number
    left join chosen_prs
        on chosen_prs.repo = attempts.repo
        and chosen_prs.number = attempts.number
        and chosen_prs.attempt = attempts.attempt
    left join pr_rounds
        on pr_rounds.repo = chosen_prs.repo
        and pr_rounds.pr_number = chosen_prs.pr_number
    left join nudges
        on nudges.repo = chosen_prs.repo
        and nudges.pr_number = chosen_prs.pr_number
    left join ledger_dispatches
        on ledger_dispatches.repo = attempts.repo
        and ledger_dispatches.number = attempts.number
        and ledger_dispatches.attempt = attempts.attempt
    left join covering_members
        on covering_members.repo = attempts.repo
        and covering_members.number = attempts.number
        and covering_members.attempt = attempts.attempt

),

final as (

    select * from joined

)

select * from final
