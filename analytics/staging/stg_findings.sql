-- Findings parsed from audit issue bodies (materialised by Python into `finding_rows`).
-- Renames and casts only. Grain: one row per finding (repo, audit_number, finding_index).
with

source as (

    select * from finding_rows

),

renamed as (

    select
        ----------  ids
        repo,
        audit_number,
        finding_index,
        fingerprint,

        ----------  text
        title,
        text,
        lower(severity) as severity,
        lower(type) as type,
        lower(scope) as scope,
        lower(complexity) as complexity,
        coalesce(labels, []::varchar[]) as labels,

        ----------  booleans
        coalesce(severity_explicit, false) as is_severity_explicit,
        coalesce(type_explicit, false) as is_type_explicit

    from source

)

select * from renamed
