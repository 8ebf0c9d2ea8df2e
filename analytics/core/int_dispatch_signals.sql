-- Signs on GitHub that an issue was handed to one of the configured agents (`stg_agents`),
-- whoever did it (our execute or a person):
--   'labeled':  one of the agent's labels added to the issue (label events; a repeated one is a
--               separate signal, `int_dispatch_attempts` decides what is a new attempt);
--   'assigned': the agent's account assigned;
--   'pr':       a pull request linked to the issue (int_pr_issue_links) whose author is one of the
--               agent's `pr_authors` or whose head branch starts with one of its `branch_prefixes`
--               (work started in the agent's own interface has no label). A PR linked only by a
--               number in its branch name counts when it names no issue with a closing keyword.
-- Grain: one row per (repo, number, signal_id).
with

events as (

    select * from stg_issue_events

),

agents as (

    select * from stg_agents

),

pull_requests as (

    select * from stg_pull_requests

),

links as (

    select * from int_pr_issue_links

),

event_signals as (

    select
        events.repo,
        events.number,
        'event:' || events.event_id as signal_id,
        events.event as signal,
        agents.agent,
        lower(events.actor) as actor,
        events.created_at as signal_at,
        null::integer as pr_number
    from events
    inner join agents
        on (events.event = 'labeled' and list_contains(agents.labels, lower(events.label)))
        or (events.event = 'assigned' and list_contains(agents.assignees, lower(events.assignee)))
    where not events.is_pull_request
      and events.number is not null
      and events.created_at is not null

),

pr_agents as (

    -- the first agent (config order) that recognises the PR
    select
        pull_requests.repo,
        pull_requests.number as pr_number,
        lower(pull_requests.author) as author,
        pull_requests.created_at,
        arg_min(agents.agent, agents.position) as agent
    from pull_requests
    inner join agents
        on list_contains(agents.pr_authors, lower(pull_requests.author))
        or len(list_filter(agents.branch_prefixes, lambda p: starts_with(lower(coalesce(pull_requests.head_ref, '')), p))) > 0
    group by all

),

closing_prs as (

    select distinct links.repo, links.pr_number
    from links
    where links.link_kind = 'closing_keyword'

),

pr_signals as (

    select distinct
        links.repo,
        links.issue_number as number,
        'pr:' || links.pr_number as signal_id,
        'pr' as signal,
        pr_agents.agent,
        pr_agents.author as actor,
        pr_agents.created_at as signal_at,
        links.pr_number
    from links
    inner join pr_agents
        on pr_agents.repo = links.repo
        and pr_agents.pr_number = links.pr_number
    left join closing_prs
        on closing_prs.repo = links.repo
        and closing_prs.pr_number = links.pr_number
    where pr_agents.created_at is not null
      and (links.link_kind = 'closing_keyword' or closing_prs.pr_number is null)

),

final as (

    select * from event_signals
    union all
    select * from pr_signals

)

select * from final
