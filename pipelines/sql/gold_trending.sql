-- target: gold.trending
-- mode: merge
-- keys: day, country, product_id
-- add: score, actions
-- source: bronze.activity
-- trigger: every 5s
--
-- What people are looking at now, by day and visitor country: each product's weighted
-- interactions (view 0.1, wishlist 0.5, cart 0.7, as in silver.interactions). The recommender's
-- cold start ranks products by the last week of this table, the visitor's country first.
-- Visitors without a known country count under ''.
SELECT
    CAST(at AS DATE) AS day,
    COALESCE(json_get_str(payload, 'country'), '') AS country,
    json_get_str(payload, 'product_id') AS product_id,
    json_get_str(payload, 'shop_id') AS shop_id,
    SUM(CAST(CASE kind WHEN 'product_view' THEN 0.1 WHEN 'add_to_wishlist' THEN 0.5 ELSE 0.7 END AS DOUBLE)) AS score,
    COUNT(*) AS actions
FROM bronze.activity
WHERE kind IN ('product_view', 'add_to_wishlist', 'add_to_cart')
  AND json_get_str(payload, 'product_id') IS NOT NULL
GROUP BY 1, 2, 3, 4
