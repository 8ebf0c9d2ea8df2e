-- Issue and pull request timeline events (labeled, closed, ...): renames and casts only.
-- Grain: one row per event (event_id).
with

source as (

    select * from issue_events

),

renamed as (

    select
        ----------  ids
        id as event_id,
        repo,
        number,
        commit_id,

        ----------  text
        lower(event) as event,
        actor,
        label,
        assignee,

        ----------  booleans
        coalesce(is_pull_request, false) as is_pull_request,

        ----------  timestamps
        created_at,

        ----------  lineage
        run_id

    from source

)

select * from renamed
