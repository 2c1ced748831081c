-- target: silver.shop_visitors
-- mode: merge
-- keys: day, shop_id, visitor_id
-- add: events
-- source: bronze.activity
-- trigger: every 2s
--
-- Who came to each shop each day (by pseudonymous session or account id) and how often: one row
-- per visitor, so a shop's unique visitors over any range are its distinct visitor ids there —
-- a count that, unlike a sum of daily uniques, never counts a returning visitor twice.
SELECT
    CAST(at AS DATE) AS day,
    json_get_str(payload, 'shop_id') AS shop_id,
    actor_id AS visitor_id,
    COUNT(*) AS events
FROM bronze.activity
WHERE json_get_str(payload, 'shop_id') IS NOT NULL AND actor_id IS NOT NULL
GROUP BY 1, 2, 3
