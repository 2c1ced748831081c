-- target: gold.product_daily
-- mode: merge
-- keys: product_id, day
-- add: views, cart_adds, wishlist_adds
-- source: bronze.activity
-- trigger: every 1s
--
-- Views, cart adds and wishlist adds per product per day. Incremental: each run sees only the
-- activity rows that arrived since the last run and adds its counts to the stored ones.
SELECT
    json_get_str(payload, 'product_id') AS product_id,
    json_get_str(payload, 'shop_id') AS shop_id,
    CAST(at AS DATE) AS day,
    SUM(CASE WHEN kind = 'product_view' THEN 1 ELSE 0 END) AS views,
    SUM(CASE WHEN kind = 'add_to_cart' THEN 1 ELSE 0 END) AS cart_adds,
    SUM(CASE WHEN kind = 'add_to_wishlist' THEN 1 ELSE 0 END) AS wishlist_adds
FROM bronze.activity
WHERE kind IN ('product_view', 'add_to_cart', 'add_to_wishlist')
GROUP BY 1, 2, 3
