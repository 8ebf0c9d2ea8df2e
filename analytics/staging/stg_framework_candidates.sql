-- Findings seen in 3+ similar forms across the org (materialised by Python into
-- `framework_candidate_rows`). Renames and casts only.
-- Grain: one row per (candidate_id, member finding).
with

source as (

    select * from framework_candidate_rows

),

renamed as (

    select
        ----------  ids
        candidate_id,
        repo,
        audit_number,
        finding_index,
        fingerprint,

        ----------  text
        lower(type) as type,
        title,

        ----------  numerics
        member_count as count_members,
        repo_count as count_repos

    from source

)

select * from renamed
