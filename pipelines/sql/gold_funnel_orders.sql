-- target: gold.funnel_daily
-- mode: merge
-- keys: day, shop_id, product_id
-- add: views, cart_adds, checkouts, purchases, revenue
-- source: bronze.commerce
-- trigger: every 2s
--
-- The funnel's second writer (see gold_funnel_activity): units of each product that went into a
-- checkout (`checkout.opened`), and units bought with their revenue (`order.placed`, minor units).
SELECT
    day,
    shop_id,
    json_get_str(line, 'product_id') AS product_id,
    CAST(0 AS BIGINT) AS views,
    CAST(0 AS BIGINT) AS cart_adds,
    CAST(SUM(CASE WHEN stage = 'checkout' THEN CAST(json_get_str(line, 'quantity') AS BIGINT) ELSE 0 END) AS BIGINT) AS checkouts,
    CAST(SUM(CASE WHEN stage = 'purchase' THEN CAST(json_get_str(line, 'quantity') AS BIGINT) ELSE 0 END) AS BIGINT) AS purchases,
    CAST(SUM(CASE WHEN stage = 'purchase' THEN CAST(json_get_str(line, '/subtotal/amount') AS BIGINT) - CAST(json_get_str(line, '/discount/amount') AS BIGINT) ELSE 0 END) AS BIGINT) AS revenue
FROM (
    SELECT day, stage, json_get_str(part, 'shop_id') AS shop_id, unnest(json_get_array(part, '/lines')) AS line
    FROM (
        SELECT CAST(at AS DATE) AS day, 'checkout' AS stage, unnest(json_get_array(payload, '/priced/shops')) AS part
        FROM bronze.commerce
        WHERE kind = 'checkout.opened'
    ) AS checkouts
    UNION ALL
    SELECT CAST(at AS DATE) AS day, 'purchase' AS stage, json_get_str(payload, '/shop_id') AS shop_id, unnest(json_get_array(payload, '/lines')) AS line
    FROM bronze.commerce
    WHERE kind = 'order.placed'
) AS lines
GROUP BY 1, 2, 3
