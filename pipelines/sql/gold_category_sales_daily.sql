-- target: gold.category_sales_daily
-- mode: merge
-- keys: day, category, currency
-- add: orders, units, gross, discounts, revenue
-- source: bronze.commerce
-- trigger: every 2s
--
-- Sales per day and category (minor units): the orders that had a line of the category, the units,
-- the lines' gross, their share of discount codes, and revenue (gross less discounts). The category
-- is the one the product had when it sold (it rides on the order line). An order is placed in one
-- event, so counting its distinct ids per run adds up across runs.
SELECT
    day,
    category,
    currency,
    COUNT(DISTINCT order_id) AS orders,
    CAST(SUM(quantity) AS BIGINT) AS units,
    CAST(SUM(subtotal) AS BIGINT) AS gross,
    CAST(SUM(discount) AS BIGINT) AS discounts,
    CAST(SUM(subtotal - discount) AS BIGINT) AS revenue
FROM (
    SELECT
        order_id,
        day,
        currency,
        coalesce(nullif(json_get_str(line, 'category'), ''), 'uncategorized') AS category,
        CAST(json_get_str(line, 'quantity') AS BIGINT) AS quantity,
        CAST(json_get_str(line, '/subtotal/amount') AS BIGINT) AS subtotal,
        CAST(json_get_str(line, '/discount/amount') AS BIGINT) AS discount
    FROM (
        SELECT
            json_get_str(payload, '/id') AS order_id,
            CAST(at AS DATE) AS day,
            json_get_str(payload, '/total/currency') AS currency,
            unnest(json_get_array(payload, '/lines')) AS line
        FROM bronze.commerce
        WHERE kind = 'order.placed'
    ) AS lines
) AS typed
GROUP BY day, category, currency
