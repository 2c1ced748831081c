-- target: silver.shop_settings
-- mode: merge
-- keys: shop_id
-- source: bronze.commerce
-- trigger: every 1s
--
-- Each shop's own settings as they are now (`shop.created` carries the shop, `shop.updated` the
-- shop after the change): the low-stock threshold the notification pipeline compares stock with,
-- and which mails the seller wants.
SELECT shop_id, low_stock_threshold, email_new_orders, email_low_stock, updated_at
FROM (
    SELECT
        coalesce(json_get_str(payload, '/after/id'), json_get_str(payload, '/id')) AS shop_id,
        CAST(coalesce(json_get_str(payload, '/after/settings/low_stock_threshold'), json_get_str(payload, '/settings/low_stock_threshold')) AS BIGINT) AS low_stock_threshold,
        coalesce(json_get_str(payload, '/after/settings/email_new_orders'), json_get_str(payload, '/settings/email_new_orders')) = 'true' AS email_new_orders,
        coalesce(json_get_str(payload, '/after/settings/email_low_stock'), json_get_str(payload, '/settings/email_low_stock')) = 'true' AS email_low_stock,
        at AS updated_at,
        ROW_NUMBER() OVER (
            PARTITION BY coalesce(json_get_str(payload, '/after/id'), json_get_str(payload, '/id'))
            ORDER BY "offset" DESC
        ) AS newest
    FROM bronze.commerce
    WHERE kind = 'shop.created'
       OR (kind = 'shop.updated' AND json_get_str(payload, '/after/id') IS NOT NULL)
) AS events
WHERE newest = 1
