-- target: gold.sales_daily
-- mode: merge
-- keys: day, shop_id, currency
-- add: orders, gross, discounts, revenue, fees, cancelled_orders, refunds
-- source: bronze.commerce
-- trigger: every 2s
--
-- Sales per day and shop (minor units of each currency): orders placed, their gross (before
-- codes), discounts, revenue (what shoppers paid), the platform's fees; and orders cancelled that
-- day with what was refunded. Incremental: each run adds the new events' sums to the stored ones.
SELECT
    CAST(at AS DATE) AS day,
    coalesce(json_get_str(payload, '/shop_id'), json_get_str(payload, '/after/shop_id')) AS shop_id,
    coalesce(json_get_str(payload, '/total/currency'), json_get_str(payload, '/after/total/currency')) AS currency,
    SUM(CASE WHEN kind = 'order.placed' THEN 1 ELSE 0 END) AS orders,
    SUM(CASE WHEN kind = 'order.placed' THEN CAST(json_get_str(payload, '/subtotal/amount') AS BIGINT) ELSE 0 END) AS gross,
    SUM(CASE WHEN kind = 'order.placed' THEN CAST(json_get_str(payload, '/discount/amount') AS BIGINT) ELSE 0 END) AS discounts,
    SUM(CASE WHEN kind = 'order.placed' THEN CAST(json_get_str(payload, '/total/amount') AS BIGINT) ELSE 0 END) AS revenue,
    SUM(CASE WHEN kind = 'order.placed' THEN CAST(json_get_str(payload, '/fee/amount') AS BIGINT) ELSE 0 END) AS fees,
    SUM(CASE WHEN kind = 'order.cancelled' THEN 1 ELSE 0 END) AS cancelled_orders,
    SUM(CASE WHEN kind = 'order.cancelled' THEN CAST(json_get_str(payload, '/after/total/amount') AS BIGINT) ELSE 0 END) AS refunds
FROM bronze.commerce
WHERE kind = 'order.placed'
   OR (kind = 'order.cancelled' AND json_get_str(payload, '/after/id') IS NOT NULL)
GROUP BY 1, 2, 3
