-- target: gold.trending
-- mode: merge
-- keys: day, country, product_id
-- add: points, actions
-- source: bronze.activity
-- trigger: every 5s
--
-- What people are looking at now, by day and visitor country: each product's weighted
-- interactions in tenths (view 1, wishlist 5, cart 7: silver.interactions' 0.1, 0.5, 0.7), whole
-- numbers so that runs adding them up in any grouping agree exactly. The recommender's cold start
-- ranks products by the last week of this table, the visitor's country first. Visitors without a
-- known country count under ''.
SELECT
    CAST(at AS DATE) AS day,
    COALESCE(json_get_str(payload, 'country'), '') AS country,
    json_get_str(payload, 'product_id') AS product_id,
    json_get_str(payload, 'shop_id') AS shop_id,
    SUM(CASE kind WHEN 'product_view' THEN 1 WHEN 'add_to_wishlist' THEN 5 ELSE 7 END) AS points,
    COUNT(*) AS actions
FROM bronze.activity
WHERE kind IN ('product_view', 'add_to_wishlist', 'add_to_cart')
  AND json_get_str(payload, 'product_id') IS NOT NULL
GROUP BY 1, 2, 3, 4
