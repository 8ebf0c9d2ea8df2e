-- Warnings from parsing audit issue bodies (materialised by Python into `parse_warning_rows`).
-- Renames only. Grain: one row per raw warning row (no key: see marts/parse_warnings).
with

source as (

    select * from parse_warning_rows

),

renamed as (

    select
        ----------  ids
        repo,
        number,

        ----------  text
        warning

    from source

)

select * from renamed
