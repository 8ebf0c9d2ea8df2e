-- Warnings from parsing audit bodies, numbered per audit issue (in warning text order).
-- Grain: one row per (repo, number, warning_index).
with

warnings as (

    select * from stg_parse_warnings

),

issues as (

    select * from stg_issues

),

numbered as (

    select
        warnings.repo,
        warnings.number,
        row_number() over (
            partition by warnings.repo, warnings.number order by warnings.warning
        )::integer as warning_index,
        warnings.warning
    from warnings

),

final as (

    select
        ----------  ids
        numbered.repo,
        numbered.number,
        numbered.warning_index,

        ----------  text
        numbered.warning,
        issues.title,
        issues.state,
        issues.html_url

    from numbered
    left join issues
        on issues.repo = numbered.repo
        and issues.number = numbered.number

)

select * from final
