-- Framework candidates with the title of the audit finding each came from (the planner's input).
-- Grain: one row per framework candidate (candidate_id).
with

candidates as (

    select * from framework_candidates

),

findings as (

    select * from audit_findings

),

final as (

    select
        candidates.candidate_id,
        candidates.repo,
        candidates.audit_number,
        candidates.finding_index,
        candidates.type,
        candidates.title,
        findings.title as finding_title,
        candidates.implemented_by
    from candidates
    left join findings
        on findings.repo = candidates.repo
        and findings.audit_number = candidates.audit_number
        and findings.finding_index = candidates.finding_index

)

select * from final
