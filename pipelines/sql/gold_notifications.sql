-- target: gold.notifications
-- mode: append
-- source: bronze.commerce
-- publish: notifications
-- trigger: every 1s
--
-- The notifications people get, from the events that concern them: a new order (its shop and
-- every admin), payment received, an order's status changed or cancelled (the shopper), a product
-- at or under its shop's low-stock threshold, a new follower or review (the shop). Each run's rows
-- are published to the `notifications` topic, where the service delivers them, and kept here.
-- A notification's id is its cause's event id and its receiver, so a repeated run delivers
-- nothing twice. Recipients: `account:<id>`, `shop:<id>` (whoever owns it) or `admins`.
-- Amounts are in minor units in the events; `money_text` shows them as 12.34 EUR.
SELECT id || ':shop' AS id,
       'shop:' || json_get_str(payload, '/shop_id') AS recipient,
       'order.new' AS kind,
       'New order M-' || upper(right(json_get_str(payload, '/id'), 8)) AS title,
       'Total ' || money_text(CAST(json_get_str(payload, '/total/amount') AS BIGINT), json_get_str(payload, '/total/currency')) || '. Ship it from your orders page.' AS body,
       '/seller/orders/' || json_get_str(payload, '/id') AS link,
       at
FROM bronze.commerce
WHERE kind = 'order.placed'
UNION ALL
SELECT id || ':admins',
       'admins',
       'order.new',
       'New order M-' || upper(right(json_get_str(payload, '/id'), 8)) || ' at ' || json_get_str(payload, '/shop_name'),
       'Total ' || money_text(CAST(json_get_str(payload, '/total/amount') AS BIGINT), json_get_str(payload, '/total/currency'))
           || ', fee ' || regexp_replace(money_text(CAST(json_get_str(payload, '/fee/amount') AS BIGINT), json_get_str(payload, '/fee/currency')), ' [A-Z]+$', '') || '.',
       '/admin/orders',
       at
FROM bronze.commerce
WHERE kind = 'order.placed'
UNION ALL
SELECT id || ':shopper',
       'account:' || json_get_str(payload, '/owner'),
       'payment.received',
       'Payment received',
       'We received ' || money_text(CAST(json_get_str(payload, '/amount/amount') AS BIGINT), json_get_str(payload, '/amount/currency')) || ' for your order. Thank you!',
       '/orders',
       at
FROM bronze.commerce
WHERE kind = 'payment.captured'
UNION ALL
SELECT id || ':shopper',
       'account:' || json_get_str(payload, '/shopper'),
       'order.status',
       'Order M-' || upper(right(json_get_str(payload, '/id'), 8)) || ' is ' || replace(json_get_str(payload, '/to'), '_', ' '),
       'From ' || coalesce(json_get_str(payload, '/after/shop_name'), 'the shop') || '.',
       '/orders/' || json_get_str(payload, '/id'),
       at
FROM bronze.commerce
WHERE kind = 'order.status_changed'
UNION ALL
SELECT id || ':shopper',
       'account:' || json_get_str(payload, '/shopper'),
       'order.cancelled',
       'Order M-' || upper(right(json_get_str(payload, '/id'), 8)) || ' was cancelled',
       json_get_str(payload, '/reason'),
       '/orders/' || json_get_str(payload, '/id'),
       at
FROM bronze.commerce
WHERE kind = 'order.cancelled'
UNION ALL
SELECT e.id || ':shop',
       'shop:' || json_get_str(e.payload, '/after/shop_id'),
       'stock.low',
       CASE WHEN CAST(json_get_str(e.payload, '/after/stock') AS BIGINT) = 0
            THEN 'Out of stock: ' ELSE 'Low stock: ' END || json_get_str(e.payload, '/after/title'),
       json_get_str(e.payload, '/after/stock') || ' left (your threshold is '
           || CAST(s.low_stock_threshold AS VARCHAR) || ').',
       '/seller/products/' || json_get_str(e.payload, '/id') || '/edit',
       e.at
FROM bronze.commerce AS e
JOIN silver.shop_settings AS s ON s.shop_id = json_get_str(e.payload, '/after/shop_id')
WHERE e.kind = 'product.updated'
  AND json_get_str(e.payload, '/changes/stock') IS NOT NULL
  AND json_get_str(e.payload, '/after/deleted_at') IS NULL
  AND CAST(json_get_str(e.payload, '/after/stock') AS BIGINT) <= s.low_stock_threshold
UNION ALL
SELECT id || ':shop',
       'shop:' || json_get_str(payload, '/shop'),
       'shop.followed',
       'A shopper followed your shop',
       'They will see your new products and offers first.',
       '/seller',
       at
FROM bronze.commerce
WHERE kind = 'shop.followed'
UNION ALL
SELECT id || ':shop',
       'shop:' || json_get_str(payload, '/shop_id'),
       'review.posted',
       'New ' || json_get_str(payload, '/rating') || '-star review',
       json_get_str(payload, '/text'),
       '/seller/products/' || json_get_str(payload, '/product_id') || '/edit',
       at
FROM bronze.commerce
WHERE kind = 'review.posted'
