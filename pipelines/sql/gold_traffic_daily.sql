-- target: gold.traffic_daily
-- mode: merge
-- keys: day, shop_id, device, country, city
-- add: events, views, visits, cart_adds, wishlist_adds, searches
-- source: bronze.activity
-- trigger: every 1s
--
-- What people did per day, shop, device and place: the device mix and the geography of every
-- dashboard. `shop_id` is empty for searches across the marketplace; device, country and city
-- are `unknown` when the request did not tell.
SELECT
    CAST(at AS DATE) AS day,
    json_get_str(payload, 'shop_id') AS shop_id,
    coalesce(json_get_str(payload, 'device'), 'unknown') AS device,
    coalesce(json_get_str(payload, 'country'), 'unknown') AS country,
    coalesce(json_get_str(payload, 'city'), 'unknown') AS city,
    COUNT(*) AS events,
    SUM(CASE WHEN kind = 'product_view' THEN 1 ELSE 0 END) AS views,
    SUM(CASE WHEN kind = 'shop_visit' THEN 1 ELSE 0 END) AS visits,
    SUM(CASE WHEN kind = 'add_to_cart' THEN 1 ELSE 0 END) AS cart_adds,
    SUM(CASE WHEN kind = 'add_to_wishlist' THEN 1 ELSE 0 END) AS wishlist_adds,
    SUM(CASE WHEN kind = 'search' THEN 1 ELSE 0 END) AS searches
FROM bronze.activity
GROUP BY 1, 2, 3, 4, 5
