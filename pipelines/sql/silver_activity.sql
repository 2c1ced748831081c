-- target: silver.activity
-- mode: append
-- source: bronze.activity
-- trigger: every 2s
--
-- What people do, typed: one row per activity event, with the product, shop, search query and
-- client context taken out of the payload. Visitors appear by their pseudonymous session or
-- account id, never by name or email. `partition` and `offset` keep the lineage to the log.
SELECT
    id AS event_id,
    at,
    CAST(at AS DATE) AS day,
    kind,
    actor_role,
    actor_id AS visitor_id,
    json_get_str(payload, 'product_id') AS product_id,
    json_get_str(payload, 'shop_id') AS shop_id,
    json_get_str(payload, 'query') AS query,
    json_get_str(payload, 'device') AS device,
    json_get_str(payload, 'country') AS country,
    json_get_str(payload, 'city') AS city,
    "partition",
    "offset"
FROM bronze.activity
