-- Issues (not pull requests) as the latest snapshot saw them: renames and casts only.
-- Grain: one row per issue (repo, number).
with

source as (

    select * from issues

),

renamed as (

    select
        ----------  ids
        repo,
        number,
        id as issue_id,

        ----------  text
        title,
        coalesce(body, '') as body,
        lower(state) as state,
        state_reason,
        author,
        author_association,
        milestone,
        html_url,
        coalesce(labels, []::varchar[]) as labels,
        coalesce(assignees, []::varchar[]) as assignees,

        ----------  numerics
        coalesce(comments, 0) as count_comments,

        ----------  booleans
        lower(state) = 'open' as is_open,
        coalesce(locked, false) as is_locked,

        ----------  timestamps
        created_at,
        updated_at,
        closed_at,
        valid_from as version_valid_from,

        ----------  lineage
        run_id

    from source

)

select * from renamed
