-- Issue and pull request comments: renames and casts only.
-- Grain: one row per comment (comment_id).
with

source as (

    select * from comments

),

renamed as (

    select
        ----------  ids
        id as comment_id,
        repo,
        number,

        ----------  text
        author,
        coalesce(body, '') as body,
        html_url,

        ----------  timestamps
        created_at,
        updated_at,

        ----------  lineage
        run_id

    from source

)

select * from renamed
