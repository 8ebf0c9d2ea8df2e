-- The team as configured (`[team] members`), from `run_settings` key `team_members` (a JSON list of
-- {login, repos} in config order, written with the other settings): renames and casts only.
-- `repo_names` are lower-cased repository names (owner dropped); '*' means every repository.
-- Grain: one row per member (login).
with

source as (

    select value from run_settings where key = 'team_members'

),

parsed as (

    select unnest(from_json(source.value, '[{"login": "VARCHAR", "repos": ["VARCHAR"]}]')) as member
    from source

),

renamed as (

    select
        ----------  ids
        member.login as login,

        ----------  lists
        [lower(regexp_extract(repo, '([^/]+)$', 1)) for repo in member.repos] as repo_names,

        ----------  numerics
        row_number() over () as position

    from parsed

)

select * from renamed
