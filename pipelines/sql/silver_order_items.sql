-- target: silver.order_items
-- mode: append
-- source: bronze.commerce
-- trigger: every 2s
--
-- One row per line of each placed order: the product, its price then, the quantity, and the
-- line's share of the order's discount (minor units). A cancelled order keeps its lines here;
-- silver.orders says it was cancelled.
SELECT
    order_id,
    shop_id,
    placed_at,
    CAST(placed_at AS DATE) AS day,
    json_get_str(line, 'product_id') AS product_id,
    json_get_str(line, 'title') AS title,
    currency,
    CAST(json_get_str(line, '/unit_price/amount') AS BIGINT) AS unit_price,
    CAST(json_get_str(line, 'quantity') AS BIGINT) AS quantity,
    CAST(json_get_str(line, '/subtotal/amount') AS BIGINT) AS subtotal,
    CAST(json_get_str(line, '/discount/amount') AS BIGINT) AS discount
FROM (
    SELECT
        json_get_str(payload, '/id') AS order_id,
        json_get_str(payload, '/shop_id') AS shop_id,
        json_get_str(payload, '/total/currency') AS currency,
        to_timestamp_micros(json_get_str(payload, '/placed_at')) AS placed_at,
        unnest(json_get_array(payload, '/lines')) AS line
    FROM bronze.commerce
    WHERE kind = 'order.placed'
) AS lines
