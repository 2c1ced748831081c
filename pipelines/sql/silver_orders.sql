-- target: silver.orders
-- mode: merge
-- keys: order_id
-- source: bronze.commerce
-- trigger: every 2s
--
-- One row per order, as it is now: `order.placed` carries the whole order, and
-- `order.status_changed` and `order.cancelled` carry it again after the change (`after`), so each
-- row is the newest state of its order. Money in minor units. The shopper appears by their
-- pseudonymous account id; of the delivery address only the city and country are kept.
SELECT order_id, checkout_id, shopper_id, shop_id, shop_name, status, cancelled, cancel_reason,
       currency, subtotal, discount, total, fee, payout, code, city, country, placed_at, updated_at
FROM (
    SELECT
        json_get_str(payload, '/id') AS order_id,
        coalesce(json_get_str(payload, '/checkout_id'), json_get_str(payload, '/after/checkout_id')) AS checkout_id,
        coalesce(json_get_str(payload, '/shopper'), json_get_str(payload, '/after/shopper')) AS shopper_id,
        coalesce(json_get_str(payload, '/shop_id'), json_get_str(payload, '/after/shop_id')) AS shop_id,
        coalesce(json_get_str(payload, '/shop_name'), json_get_str(payload, '/after/shop_name')) AS shop_name,
        coalesce(json_get_str(payload, '/after/status'), json_get_str(payload, '/status')) AS status,
        coalesce(json_get_str(payload, '/after/cancelled/reason'), json_get_str(payload, '/cancelled/reason')) IS NOT NULL AS cancelled,
        coalesce(json_get_str(payload, '/after/cancelled/reason'), json_get_str(payload, '/cancelled/reason')) AS cancel_reason,
        coalesce(json_get_str(payload, '/total/currency'), json_get_str(payload, '/after/total/currency')) AS currency,
        CAST(coalesce(json_get_str(payload, '/subtotal/amount'), json_get_str(payload, '/after/subtotal/amount')) AS BIGINT) AS subtotal,
        CAST(coalesce(json_get_str(payload, '/discount/amount'), json_get_str(payload, '/after/discount/amount')) AS BIGINT) AS discount,
        CAST(coalesce(json_get_str(payload, '/total/amount'), json_get_str(payload, '/after/total/amount')) AS BIGINT) AS total,
        CAST(coalesce(json_get_str(payload, '/fee/amount'), json_get_str(payload, '/after/fee/amount')) AS BIGINT) AS fee,
        CAST(coalesce(json_get_str(payload, '/payout/amount'), json_get_str(payload, '/after/payout/amount')) AS BIGINT) AS payout,
        coalesce(json_get_str(payload, '/code/code'), json_get_str(payload, '/after/code/code')) AS code,
        coalesce(json_get_str(payload, '/address/city'), json_get_str(payload, '/after/address/city')) AS city,
        coalesce(json_get_str(payload, '/address/country'), json_get_str(payload, '/after/address/country')) AS country,
        to_timestamp_micros(coalesce(json_get_str(payload, '/placed_at'), json_get_str(payload, '/after/placed_at'))) AS placed_at,
        at AS updated_at,
        ROW_NUMBER() OVER (PARTITION BY json_get_str(payload, '/id') ORDER BY "offset" DESC) AS newest
    FROM bronze.commerce
    WHERE kind = 'order.placed'
       OR (kind IN ('order.status_changed', 'order.cancelled')
           AND json_get_str(payload, '/after/id') IS NOT NULL)
) AS events
WHERE newest = 1
