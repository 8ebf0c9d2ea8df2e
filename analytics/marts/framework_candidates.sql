-- Patterns seen in 3+ similar findings across the org: each candidate with its member findings.
-- implemented_by: the (lowest) issue number, in any repo, whose body carries the hidden marker
-- `<!-- orchestrator:framework <candidate_id> -->` (implemented_by_repo says where), else NULL.
-- Grain: one row per (candidate_id, repo, audit_number, finding_index).
with

candidates as (

    select * from stg_framework_candidates

),

markers as (

    select * from int_issue_markers

),

implementations as (

    select
        markers.marker_key as candidate_id,
        markers.repo as implemented_by_repo,
        markers.number as implemented_by
    from markers
    where markers.marker_kind = 'framework'
    qualify row_number() over (
        partition by markers.marker_key order by markers.number, markers.repo
    ) = 1

),

final as (

    select
        ----------  ids
        candidates.candidate_id,
        candidates.repo,
        candidates.audit_number,
        candidates.finding_index,
        candidates.fingerprint,

        ----------  text
        candidates.type,
        candidates.title,
        implementations.implemented_by_repo,

        ----------  numerics
        candidates.count_members,
        candidates.count_repos,
        implementations.implemented_by,

        ----------  booleans
        implementations.implemented_by is not null as is_implemented

    from candidates
    left join implementations
        on implementations.candidate_id = candidates.candidate_id

)

select * from final
