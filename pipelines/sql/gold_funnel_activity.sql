-- target: gold.funnel_daily
-- mode: merge
-- keys: day, shop_id, product_id
-- add: views, cart_adds, checkouts, purchases, revenue
-- source: bronze.activity
-- trigger: every 1s
--
-- The funnel per day, shop and product — view → cart → checkout → purchase — has two writers:
-- this one adds the views and cart adds (activity); gold_funnel_orders adds the units that went
-- to checkout and were bought (commerce). Each keeps its own watermark.
SELECT
    CAST(at AS DATE) AS day,
    json_get_str(payload, 'shop_id') AS shop_id,
    json_get_str(payload, 'product_id') AS product_id,
    SUM(CASE WHEN kind = 'product_view' THEN 1 ELSE 0 END) AS views,
    SUM(CASE WHEN kind = 'add_to_cart' THEN 1 ELSE 0 END) AS cart_adds,
    CAST(0 AS BIGINT) AS checkouts,
    CAST(0 AS BIGINT) AS purchases,
    CAST(0 AS BIGINT) AS revenue
FROM bronze.activity
WHERE kind IN ('product_view', 'add_to_cart') AND json_get_str(payload, 'product_id') IS NOT NULL
GROUP BY 1, 2, 3
