-- Issues and PRs handed to a person: they carry the `needs-human` label, put on by someone trusted.
-- A label's author is the actor of its `labeled` event: the orchestrator's own login, a team member
-- or trusted author, or someone who wrote in that repo with a trusted author_association. With no
-- `labeled` event in the snapshot (older than its history) the label counts: on GitHub only people
-- with triage access can label. A `needs-human` only untrusted actors put on is ignored.
-- Grain: one row per labelled issue or PR (repo, number).
with

issues as (

    select * from stg_issues

),

pull_requests as (

    select * from stg_pull_requests

),

comments as (

    select * from stg_comments

),

events as (

    select * from stg_issue_events

),

settings as (

    select * from stg_settings

),

labelled as (

    select repo, number from issues where list_contains([lower(l) for l in labels], 'needs-human')
    union
    select repo, number from pull_requests where list_contains([lower(l) for l in labels], 'needs-human')

),

trusted_writers as (

    select distinct repo, lower(author) as login from issues where is_trusted and author is not null
    union
    select distinct repo, lower(author) as login from comments where is_trusted and author is not null

),

label_events as (

    select
        events.repo,
        events.number,
        (settings.own_login <> '' and lower(events.actor) = settings.own_login)
            or list_contains(settings.trusted_logins, lower(events.actor))
            or trusted_writers.login is not null as is_trusted_actor
    from events
    cross join settings
    left join trusted_writers
        on trusted_writers.repo = events.repo
        and trusted_writers.login = lower(events.actor)
    where events.event = 'labeled'
      and lower(events.label) = 'needs-human'

),

final as (

    select
        ----------  ids
        labelled.repo,
        labelled.number,

        ----------  numerics
        count(label_events.number) as count_label_events,

        ----------  booleans
        count(label_events.number) = 0 or coalesce(bool_or(label_events.is_trusted_actor), false) as is_escalated

    from labelled
    left join label_events
        on label_events.repo = labelled.repo
        and label_events.number = labelled.number
    group by all

)

select * from final
