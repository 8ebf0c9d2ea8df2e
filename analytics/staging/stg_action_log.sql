-- The action ledger (every action executed): renames and casts only.
-- `target_number` is the trailing number of `target` ('12', '#12' and 'owner/repo#12' all give 12).
-- Grain: one row per executed action (plan_id, seq).
with

source as (

    select * from action_log

),

renamed as (

    select
        ----------  ids
        plan_id,
        seq,
        repo,
        target,
        try_cast(nullif(regexp_extract(target, '(\d+)\s*$', 1), '') as integer) as target_number,
        member,

        ----------  text
        lower(action) as action,
        lower(status) as status,
        reason,
        github_url,

        ----------  numerics
        cost,

        ----------  booleans
        lower(status) = 'done' as is_done,

        ----------  timestamps
        executed_at

    from source

)

select * from renamed
