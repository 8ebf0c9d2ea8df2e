-- Repositories of the organisation: renames and casts only.
-- Grain: one row per repository (repo).
with

source as (

    select * from repositories

),

renamed as (

    select
        ----------  ids
        repo,
        id as repository_id,

        ----------  text
        name,
        default_branch,
        language,
        html_url,

        ----------  numerics
        open_issues_count as count_open_issues_github,

        ----------  booleans
        coalesce(archived, false) as is_archived,
        coalesce(private, false) as is_private,

        ----------  timestamps
        pushed_at,

        ----------  lineage
        run_id

    from source

)

select * from renamed
