-- Branches the snapshot recorded (epic branches `epic/<n>-<slug>`): renames only.
-- Grain: one row per branch (repo, branch).
with

source as (

    select * from branches

),

renamed as (

    select
        ----------  ids
        repo,
        name as branch,
        sha,

        ----------  numerics (commits ahead of / behind the default branch, from the compare API)
        ahead_by as count_ahead,
        behind_by as count_behind,

        ----------  lineage
        run_id

    from source

)

select * from renamed
