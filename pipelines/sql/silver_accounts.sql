-- target: silver.accounts
-- mode: merge
-- keys: account_id
-- source: bronze.commerce
-- trigger: every 5s
--
-- One row per account as registered, for analysts: personal data is left out or masked. No name,
-- phone or address; the e-mail only by its domain. The account id joins to shops, activity and
-- (later) orders. Credentials never reach bronze at all (they travel on the `credentials` topic).
SELECT
    json_get_str(payload, '/account/id') AS account_id,
    json_get_str(payload, '/account/role') AS role,
    json_get_str(payload, '/account/country') AS country,
    split_part(json_get_str(payload, '/account/email'), '@', 2) AS email_domain,
    to_timestamp_micros(json_get_str(payload, 'at')) AS registered_at
FROM bronze.commerce
WHERE kind = 'account.registered'
