-- target: silver.interactions
-- mode: append
-- source: bronze.commerce
-- trigger: every 2s
--
-- The purchases of silver.interactions (see silver_interactions_activity): one row per line of
-- each placed order, by the shopper's account id, weight 1.0.
SELECT
    user_id,
    json_get_str(line, 'product_id') AS product_id,
    shop_id,
    'purchase' AS action,
    CAST(1.0 AS DOUBLE) AS weight,
    at,
    event_id
FROM (
    SELECT
        json_get_str(payload, '/shopper') AS user_id,
        json_get_str(payload, '/shop_id') AS shop_id,
        at,
        id AS event_id,
        unnest(json_get_array(payload, '/lines')) AS line
    FROM bronze.commerce
    WHERE kind = 'order.placed'
) AS lines
