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
        read_path,  -- 'graphql' or 'rest': how open PRs' details were read

        ----------  numerics
        requests as count_requests,
        requests_not_modified as count_requests_not_modified,
        rate_limit_remaining,
        rate_limit_limit,
        versions_added as count_versions_added,
        graphql_points,

        ----------  booleans
        lower(status) = 'complete' as is_complete,

        ----------  timestamps
        -- started_at / finished_at: the host's clock; github_started_at: GitHub's (its Date header)
        started_at,
        finished_at,
        github_started_at,
        -- "now" for comparisons with GitHub's timestamps (idle days, cooldowns): GitHub's clock
        -- when it is known (snapshots made before it was recorded fall back to the host's)
        coalesce(github_started_at, started_at) as snapshot_clock

    from source

)

select * from renamed
