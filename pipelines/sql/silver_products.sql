-- target: silver.products
-- mode: merge
-- keys: product_id
-- source: bronze.commerce
-- trigger: every 5s
--
-- One row per product, as it is now: a `product.created` event carries the whole product, and
-- `product.updated`, `product.deleted`, `product.restored` and `product.moderated` carry it again after the change
-- (`after`), so each row is simply the newest state of its product (a purged product keeps its
-- last row, deleted). Within a run only the newest event of each product counts.
SELECT product_id, shop_id, slug, title, category, subcategory, price_amount, currency,
       sale_price_amount, stock, status, brand, created_at, updated_at, deleted_at, hidden_reason
FROM (
    SELECT
        json_get_str(payload, '/id') AS product_id,
        coalesce(json_get_str(payload, '/shop_id'), json_get_str(payload, '/after/shop_id')) AS shop_id,
        coalesce(json_get_str(payload, '/slug'), json_get_str(payload, '/after/slug')) AS slug,
        coalesce(json_get_str(payload, '/title'), json_get_str(payload, '/after/title')) AS title,
        coalesce(json_get_str(payload, '/category'), json_get_str(payload, '/after/category')) AS category,
        coalesce(json_get_str(payload, '/subcategory'), json_get_str(payload, '/after/subcategory')) AS subcategory,
        CAST(coalesce(json_get_str(payload, '/price/amount'), json_get_str(payload, '/after/price/amount')) AS BIGINT) AS price_amount,
        coalesce(json_get_str(payload, '/price/currency'), json_get_str(payload, '/after/price/currency')) AS currency,
        CAST(coalesce(json_get_str(payload, '/sale_price/amount'), json_get_str(payload, '/after/sale_price/amount')) AS BIGINT) AS sale_price_amount,
        CAST(coalesce(json_get_str(payload, '/stock'), json_get_str(payload, '/after/stock')) AS BIGINT) AS stock,
        coalesce(json_get_str(payload, '/status'), json_get_str(payload, '/after/status')) AS status,
        coalesce(json_get_str(payload, '/brand'), json_get_str(payload, '/after/brand')) AS brand,
        to_timestamp_micros(json_get_str(payload, '/after/deleted_at')) AS deleted_at,
        json_get_str(payload, '/after/hidden/reason') AS hidden_reason,
        to_timestamp_micros(coalesce(json_get_str(payload, '/created_at'), json_get_str(payload, '/after/created_at'))) AS created_at,
        to_timestamp_micros(coalesce(json_get_str(payload, '/updated_at'), json_get_str(payload, '/after/updated_at'))) AS updated_at,
        ROW_NUMBER() OVER (PARTITION BY json_get_str(payload, '/id') ORDER BY "offset" DESC) AS newest
    FROM bronze.commerce
    WHERE kind = 'product.created'
       OR (kind IN ('product.updated', 'product.deleted', 'product.restored', 'product.moderated')
           AND json_get_str(payload, '/after/id') IS NOT NULL)
) AS events
WHERE newest = 1
