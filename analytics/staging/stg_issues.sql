-- Issues (not pull requests) as the latest snapshot saw them: renames and casts, plus who may instruct us
-- (is_own, is_trusted: see README "Trust model").
-- Grain: one row per issue (repo, number).
with

settings as (

    select * from stg_settings

),

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
        -- trust (README "Trust model"): own = written by the orchestrator's identity (markers count
        -- only then); trusted = own, a team member or trusted author, or a trusted association
        coalesce(settings.own_login <> '' and lower(author) = settings.own_login, false) as is_own,
        coalesce(
            (settings.own_login <> '' and lower(author) = settings.own_login)
            or list_contains(settings.trusted_logins, lower(author))
            or list_contains(settings.trusted_associations, upper(author_association)),
            false
        ) as is_trusted,

        ----------  timestamps
        created_at,
        updated_at,
        closed_at,
        valid_from as version_valid_from,

        ----------  lineage
        run_id

    from source
    cross join settings

)

select * from renamed
