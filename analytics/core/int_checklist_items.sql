-- Checklist lines that point at an issue or PR of the same repo, in every issue body that has one:
--   `- [ ] #12`, `* [x] #12`, `- [ ] owner/repo#12`, `- [ ] https://<host>/owner/repo/issues/12`
--   (`owner/repo` and URL forms count only when they name the issue's own repo; `/pull/N` too).
-- Phases: a markdown heading line (`#`..`######` then a space) starts a new phase when checklist
-- items follow it; items before any heading are phase 1; phases are numbered 1.. in body order.
-- A child listed twice keeps its first line. Only bodies that match the checklist pattern are
-- split into lines, so large snapshots stay fast. Audit issues are not epics.
-- is_trusted: the checklist's issue was written by a trusted author; only those are epics
-- (epic_children keeps them), the rest is data that failure_modes lists as ignored.
-- Grain: one row per (repo, epic, child).
with

issues as (

    select * from stg_issues

),

with_checklist as (

    select
        issues.repo,
        issues.number as epic,
        issues.is_trusted,
        string_split(replace(issues.body, chr(13), ''), chr(10)) as body_lines
    from issues
    where regexp_matches(
            issues.body,
            '(?m)^[ \t]*[-*+][ \t]+\[[ xX]\][ \t]+(?:[\w.-]+/[\w.-]+#\d|#\d|https?://)'
        )
      and not regexp_matches(issues.title, '(?i)\[audit\]|\baudit:')

),

lines as (

    select
        repo,
        epic,
        is_trusted,
        unnest(body_lines) as line,
        generate_subscripts(body_lines, 1) as line_number
    from with_checklist

),

parsed as (

    select
        repo,
        epic,
        is_trusted,
        line_number,
        regexp_matches(line, '^ {0,3}#{1,6}[ \t]') as is_heading,
        regexp_extract(
            line,
            '^[ \t]*[-*+][ \t]+\[([ xX])\][ \t]+(?:([\w.-]+/[\w.-]+)?#(\d+)|https?://[^/\s]+/([\w.-]+/[\w.-]+)/(?:issues|pull)/(\d+))',
            ['box', 'ref_repo', 'ref_number', 'url_repo', 'url_number']
        ) as item,
        line
    from lines
    where regexp_matches(line, '^ {0,3}#{1,6}[ \t]|^[ \t]*[-*+][ \t]+\[[ xX]\]')

),

sectioned as (

    select
        repo,
        epic,
        is_trusted,
        line_number,
        is_heading,
        item,
        max(case when is_heading then line_number end) over (
            partition by repo, epic order by line_number rows between unbounded preceding and current row
        ) as heading_line_number,
        last_value(
            case when is_heading then trim(regexp_replace(line, '^ {0,3}#{1,6}[ \t]+|[ \t]+#+[ \t]*$', '', 'g')) end
            ignore nulls
        ) over (
            partition by repo, epic order by line_number rows between unbounded preceding and current row
        ) as heading_title
    from parsed

),

items as (

    select
        repo,
        epic,
        is_trusted,
        line_number,
        heading_line_number,
        nullif(heading_title, '') as phase_title,
        lower(item.box) = 'x' as is_checked,
        try_cast(coalesce(nullif(item.ref_number, ''), item.url_number) as integer) as child,
        coalesce(nullif(item.ref_repo, ''), nullif(item.url_repo, ''), repo) as child_repo
    from sectioned
    where not is_heading
      and item.box <> ''

),

same_repo_items as (

    select *
    from items
    where lower(child_repo) = lower(repo)
      and child is not null
      and child <> epic
    qualify row_number() over (partition by repo, epic, child order by line_number) = 1

),

final as (

    select
        repo,
        epic,
        child,
        dense_rank() over (
            partition by repo, epic order by coalesce(heading_line_number, 0)
        )::integer as phase,
        phase_title,
        is_checked,
        line_number,
        is_trusted
    from same_repo_items

)

select * from final
