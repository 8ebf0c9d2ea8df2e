-- Pull requests as the latest snapshot saw them: renames and casts only.
-- Grain: one row per pull request (repo, number).
with

source as (

    select * from pull_requests

),

renamed as (

    select
        ----------  ids
        repo,
        number,
        id as pull_request_id,
        head_sha,

        ----------  text
        title,
        coalesce(body, '') as body,
        lower(state) as state,
        author,
        html_url,
        head_ref,
        base_ref,
        lower(mergeable_state) as mergeable_state,
        lower(ci_state) as ci_state,
        upper(review_decision) as review_decision,
        coalesce(labels, []::varchar[]) as labels,
        coalesce(changes_requested_by, []::varchar[]) as changes_requested_by,

        ----------  numerics
        coalesce(comments, 0) as count_comments,
        checks_total as count_checks,
        checks_failing as count_checks_failing,
        approvals as count_approvals,
        unresolved_threads,
        review_comments as count_review_comments,
        commits as count_commits,
        additions,
        deletions,
        changed_files as count_changed_files,

        ----------  booleans
        lower(state) = 'open' as is_open,
        coalesce(merged, false) as is_merged,
        coalesce(draft, false) as is_draft,
        mergeable as is_mergeable,

        ----------  timestamps
        created_at,
        updated_at,
        closed_at,
        merged_at,
        detail_at,

        ----------  lineage
        run_id

    from source

)

select * from renamed
