-- Hidden orchestrator markers in issue bodies: `<!-- orchestrator:<kind> <key> -->`
-- (kind `finding` keys a finding fingerprint, kind `framework` a framework candidate id).
-- Any state counts: a closed implementation issue still implements its finding.
-- Only issues the orchestrator's own identity wrote (stg_issues.is_own) count: anyone can type a
-- marker, so a forged one is ignored here (failure_modes lists it).
-- Grain: one row per (repo, number, marker_kind, marker_key).
with

issues as (

    select * from stg_issues

),

mentions as (

    select
        issues.repo,
        issues.number,
        unnest(regexp_extract_all(issues.body, '<!--\s*orchestrator:[\w-]+\s+\S+?\s*-->')) as marker
    from issues
    where issues.is_own
      and contains(issues.body, 'orchestrator:')

),

final as (

    select distinct
        repo,
        number,
        lower(regexp_extract(marker, 'orchestrator:([\w-]+)', 1)) as marker_kind,
        regexp_extract(marker, 'orchestrator:[\w-]+\s+(\S+?)\s*-->', 1) as marker_key
    from mentions

)

select * from final
