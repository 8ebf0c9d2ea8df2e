-- Findings of open audit issues a trusted author wrote, ready to become implementation issues
-- (an untrusted audit's findings stay in stg_findings: data, never filed).
-- implemented_by: the (lowest) number of an issue of the same repo whose body carries the hidden
-- marker `<!-- orchestrator:finding <fingerprint> -->`, or NULL while no issue implements it.
-- Grain: one row per finding (repo, audit_number, finding_index).
with

findings as (

    select * from stg_findings

),

audits as (

    select * from audit_issues where is_trusted

),

markers as (

    select * from int_issue_markers

),

implementations as (

    select
        markers.repo,
        markers.marker_key as fingerprint,
        min(markers.number) as implemented_by
    from markers
    where markers.marker_kind = 'finding'
    group by all

),

final as (

    select
        ----------  ids
        findings.repo,
        findings.audit_number,
        findings.finding_index,
        findings.fingerprint,

        ----------  text
        audits.title as audit_title,
        findings.title,
        findings.text,
        findings.severity,
        findings.type,
        findings.scope,
        findings.complexity,
        findings.labels,

        ----------  numerics
        implementations.implemented_by,

        ----------  booleans
        findings.is_severity_explicit,
        findings.is_type_explicit,
        implementations.implemented_by is not null as is_implemented

    from findings
    inner join audits
        on audits.repo = findings.repo
        and audits.number = findings.audit_number
    left join implementations
        on implementations.repo = findings.repo
        and implementations.fingerprint = findings.fingerprint

)

select * from final
