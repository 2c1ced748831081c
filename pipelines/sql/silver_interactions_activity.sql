-- target: silver.interactions
-- mode: append
-- source: bronze.activity
-- trigger: every 2s
--
-- What the recommender learns from: one row per thing a person did with a product, with the
-- action's default weight (view 0.1 < wishlist 0.5 < cart 0.7 < purchase 1.0; training may weigh
-- them otherwise). Two writers: this one the activity (visitors by their pseudonymous session or
-- account id), silver_interactions_orders the purchases.
SELECT
    actor_id AS user_id,
    json_get_str(payload, 'product_id') AS product_id,
    json_get_str(payload, 'shop_id') AS shop_id,
    CASE kind WHEN 'product_view' THEN 'view' WHEN 'add_to_wishlist' THEN 'wishlist' ELSE 'cart' END AS action,
    CAST(CASE kind WHEN 'product_view' THEN 0.1 WHEN 'add_to_wishlist' THEN 0.5 ELSE 0.7 END AS DOUBLE) AS weight,
    at,
    id AS event_id
FROM bronze.activity
WHERE kind IN ('product_view', 'add_to_wishlist', 'add_to_cart')
  AND actor_id IS NOT NULL
  AND json_get_str(payload, 'product_id') IS NOT NULL
