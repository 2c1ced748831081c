-- target: silver.shops
-- mode: merge
-- keys: shop_id
-- source: bronze.commerce
-- trigger: every 5s
--
-- One row per shop, as opened. The owner appears by account id only.
SELECT
    json_get_str(payload, 'id') AS shop_id,
    json_get_str(payload, 'name') AS name,
    json_get_str(payload, 'slug') AS slug,
    json_get_str(payload, 'category') AS category,
    json_get_str(payload, 'country') AS country,
    json_get_str(payload, 'owner') AS owner_id,
    to_timestamp_micros(json_get_str(payload, 'created_at')) AS created_at
FROM bronze.commerce
WHERE kind = 'shop.created'
