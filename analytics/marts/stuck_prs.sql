-- Open pull requests and whether (and how) they are stuck, as of the latest complete snapshot.
--   as_of_at:     GitHub's clock at the latest complete snapshot's start (never now(): results reproduce);
--                 with no complete snapshot yet, the latest PR update seen;
--   conflicting:  mergeable_state 'dirty' or mergeable = false;
--   ci_failing:   ci_state 'failure' (or 'error');
--   changes_requested: review decision CHANGES_REQUESTED;
--   unresolved_threads: review threads not resolved (GraphQL); NULL when the snapshot took the REST
--                 path, which cannot see threads: then only the review decision counts, as before;
--   is_behind:    mergeable_state 'behind'; is_stale: idle_days >= stale_pr_days;
--   is_stuck:     any of those; a draft is stuck only when it conflicts;
--   count_nudges: our nudge comments on the PR (marker `<!-- orchestrator:nudge` in a comment of our
--                 own identity, or a trusted author's body that starts with 'fix the merge conflict' /
--                 'fix the code reviews', any case: forged nudges never hasten an escalation) plus
--                 done `nudge_pr` ledger rows whose github_url is not one of those comments;
--   intervention_code: 'escalate' once count_nudges >= escalate_after_nudges and still stuck, else the
--                 first of: conflicting, changes_requested, unresolved_threads, ci_failing, behind,
--                 stale; NULL when not
--                 stuck. The codes are common/stuck.py's STUCK_REASONS (the planner and execute use them);
--   intervention: the code's English text for people (fix the merge conflict, fix the code reviews,
--                 fix the code reviews (unresolved threads), re-run CI, update branch, ping,
--                 escalate), rendered in from STUCK_REASONS.
-- Grain: one row per open pull request (repo, number).
with

pull_requests as (

    select * from stg_pull_requests

),

comments as (

    select * from stg_comments

),

ledger as (

    select * from stg_action_log

),

snapshot_runs as (

    select * from stg_snapshot_runs

),

settings as (

    select * from stg_settings

),

reasons as (

    select * from {{ values:stuck_reasons }}

),

as_of as (

    select
        coalesce(
            (select max(snapshot_runs.snapshot_clock) from snapshot_runs where snapshot_runs.is_complete),
            (select max(pull_requests.updated_at) from pull_requests)
        ) as as_of_at

),

open_prs as (

    select * from pull_requests where pull_requests.is_open

),

nudge_comments as (

    select
        comments.repo,
        comments.number,
        comments.html_url,
        comments.created_at
    from comments
    inner join open_prs
        on open_prs.repo = comments.repo
        and open_prs.number = comments.number
    where (comments.is_own and contains(comments.body, '<!-- orchestrator:nudge'))
       or (
           comments.is_trusted
           and (
               starts_with(lower(trim(comments.body)), 'fix the merge conflict')
               or starts_with(lower(trim(comments.body)), 'fix the code reviews')
           )
       )

),

nudge_actions as (

    select
        ledger.repo,
        ledger.target_number as number,
        ledger.executed_at as created_at
    from ledger
    where ledger.action = 'nudge_pr'
      and ledger.is_done
      and not exists (
          select 1
          from nudge_comments
          where nudge_comments.repo = ledger.repo
            and nudge_comments.number = ledger.target_number
            and nudge_comments.html_url = ledger.github_url
      )

),

nudges as (

    select repo, number, count(*) as count_nudges, max(created_at) as last_nudged_at
    from (
        select repo, number, created_at from nudge_comments
        union all
        select repo, number, created_at from nudge_actions
    )
    group by all

),

flagged as (

    select
        open_prs.repo,
        open_prs.number,
        open_prs.title,
        open_prs.author,
        open_prs.html_url,
        open_prs.head_ref,
        open_prs.base_ref,
        open_prs.mergeable_state,
        open_prs.ci_state,
        open_prs.review_decision,
        open_prs.updated_at,
        as_of.as_of_at,
        open_prs.is_draft,
        coalesce(open_prs.mergeable_state = 'dirty' or open_prs.is_mergeable = false, false) as conflicting,
        coalesce(open_prs.ci_state in ('failure', 'error'), false) as ci_failing,
        coalesce(open_prs.review_decision = 'CHANGES_REQUESTED', false) as changes_requested,
        open_prs.unresolved_threads,
        coalesce(open_prs.mergeable_state = 'behind', false) as is_behind,
        floor(epoch(as_of.as_of_at - open_prs.updated_at) / 86400)::integer as idle_days,
        coalesce(nudges.count_nudges, 0) as count_nudges,
        nudges.last_nudged_at,
        settings.stale_pr_days,
        settings.escalate_after_nudges
    from open_prs
    cross join as_of
    cross join settings
    left join nudges
        on nudges.repo = open_prs.repo
        and nudges.number = open_prs.number

),

judged as (

    select
        flagged.*,
        coalesce(flagged.idle_days >= flagged.stale_pr_days, false) as is_stale,
        coalesce(flagged.unresolved_threads, 0) > 0 as has_unresolved_threads
    from flagged

),

stuck as (

    select
        judged.*,
        case
            when judged.is_draft then judged.conflicting
            else judged.conflicting or judged.ci_failing or judged.changes_requested
                or judged.has_unresolved_threads
                or judged.is_behind or judged.is_stale
        end as is_stuck
    from judged

),

coded as (

    select
        stuck.*,
        case
            when not stuck.is_stuck then null
            when stuck.count_nudges >= stuck.escalate_after_nudges then 'escalate'
            when stuck.conflicting then 'conflicting'
            when stuck.changes_requested then 'changes_requested'
            when stuck.has_unresolved_threads then 'unresolved_threads'
            when stuck.ci_failing then 'ci_failing'
            when stuck.is_behind then 'behind'
            when stuck.is_stale then 'stale'
        end as intervention_code
    from stuck

),

final as (

    select
        ----------  ids
        stuck.repo,
        stuck.number,

        ----------  text
        stuck.title,
        stuck.author,
        stuck.html_url,
        stuck.head_ref,
        stuck.base_ref,
        stuck.mergeable_state,
        stuck.ci_state,
        stuck.review_decision,
        reasons.text as intervention,
        stuck.intervention_code,

        ----------  numerics
        stuck.unresolved_threads,
        stuck.idle_days,
        stuck.count_nudges,

        ----------  booleans
        stuck.conflicting,
        stuck.ci_failing,
        stuck.changes_requested,
        stuck.has_unresolved_threads,
        stuck.is_behind,
        stuck.is_stale,
        stuck.is_draft,
        stuck.is_stuck,

        ----------  timestamps
        stuck.updated_at,
        stuck.last_nudged_at,
        stuck.as_of_at

    from coded as stuck
    left join reasons
        on reasons.code = stuck.intervention_code

)

select * from final
