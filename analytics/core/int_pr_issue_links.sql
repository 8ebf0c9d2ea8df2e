-- Which pull request works on which issue of the same repo.
--   closing_keyword: the PR title or body says `fixes|closes|resolves #N` (also `owner/repo#N`
--                    and issue URLs of the same repo; every tense: fix/fixed/fixes, ...);
--   head_ref:        the PR branch name holds N as a whole token between `/`, `-`, `_`
--                    (`jules/issue-42-fix`, `fix-42`); `epic/*` branches are skipped, since
--                    their number is the epic's own.
-- Grain: one row per (repo, pr_number, issue_number, link_kind).
with

pull_requests as (

    select * from stg_pull_requests

),

closing_mentions as (

    select
        pull_requests.repo,
        pull_requests.number as pr_number,
        unnest(regexp_extract_all(
            pull_requests.title || chr(10) || pull_requests.body,
            '(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+(?:(?:[\w.-]+/[\w.-]+)?#\d+|https?://[^\s/]+/[\w.-]+/[\w.-]+/issues/\d+)'
        )) as mention
    from pull_requests
    where regexp_matches(pull_requests.title || chr(10) || pull_requests.body, '(?i)\b(?:close|fix|resolve)')

),

closing_links as (

    select
        repo,
        pr_number,
        try_cast(regexp_extract(mention, '(\d+)$', 1) as integer) as issue_number,
        'closing_keyword' as link_kind
    from closing_mentions
    where coalesce(
        nullif(regexp_extract(mention, '([\w.-]+/[\w.-]+)#\d+$', 1), ''),
        nullif(regexp_extract(mention, '/([\w.-]+/[\w.-]+)/issues/\d+$', 1), ''),
        repo
    ) ilike repo

),

branch_tokens as (

    select
        pull_requests.repo,
        pull_requests.number as pr_number,
        unnest(regexp_extract_all(pull_requests.head_ref, '(?:^|[/_-])(\d+)(?:[/_-]|$)', 1)) as token
    from pull_requests
    where pull_requests.head_ref is not null
      and not starts_with(pull_requests.head_ref, 'epic/')

),

branch_links as (

    select
        repo,
        pr_number,
        try_cast(token as integer) as issue_number,
        'head_ref' as link_kind
    from branch_tokens

),

links as (

    select * from closing_links
    union
    select * from branch_links

),

final as (

    select
        links.repo,
        links.pr_number,
        links.issue_number,
        links.link_kind,
        pull_requests.state as pr_state,
        pull_requests.is_open as is_pr_open,
        pull_requests.is_merged as is_pr_merged,
        pull_requests.is_draft as is_pr_draft
    from links
    inner join pull_requests
        on pull_requests.repo = links.repo
        and pull_requests.number = links.pr_number
    where links.issue_number is not null
      and links.issue_number <> links.pr_number

)

select * from final
