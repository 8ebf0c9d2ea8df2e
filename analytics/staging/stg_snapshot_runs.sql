-- Snapshot runs: renames and casts only.
-- Grain: one row per snapshot run (run_id).
with

source as (

    select * from snapshot_runs

),

renamed as (

    select
        ----------  ids
        run_id,

        ----------  text
        lower(status) as status,
        coalesce(repos, []::varchar[]) as repos,
        error,

        ----------  numerics
        requests as count_requests,
        requests_not_modified as count_requests_not_modified,
        rate_limit_remaining,
        rate_limit_limit,
        versions_added as count_versions_added,

        ----------  booleans
        lower(status) = 'complete' as is_complete,

        ----------  timestamps
        started_at,
        finished_at

    from source

)

select * from renamed
