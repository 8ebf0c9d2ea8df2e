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

        ----------  lineage
        run_id

    from source

)

select * from renamed
