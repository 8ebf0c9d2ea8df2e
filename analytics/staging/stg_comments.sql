-- Issue and pull request comments: renames and casts, plus who may instruct us
-- (is_own, is_trusted: see README "Trust model").
-- Grain: one row per comment (comment_id).
with

settings as (

    select * from stg_settings

),

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
        author_association,
        coalesce(body, '') as body,
        html_url,

        ----------  booleans (trust: README "Trust model")
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

        ----------  lineage
        run_id

    from source
    cross join settings

)

select * from renamed
