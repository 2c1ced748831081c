-- target: gold.recommendations_daily
-- mode: merge
-- keys: day, placement, source
-- add: lists_shown, products_shown, clicks
-- source: bronze.activity
-- trigger: every 5s
--
-- How recommendations do, per day, placement (home, similar) and source (the model run that
-- ranked them, or trending): lists shown, products shown in them and clicks on them. The admin
-- dashboard's click-through is clicks / products shown.
SELECT
    CAST(at AS DATE) AS day,
    json_get_str(payload, '/recommendation/placement') AS placement,
    json_get_str(payload, '/recommendation/source') AS source,
    SUM(CASE WHEN kind = 'recommendation_shown' THEN 1 ELSE 0 END) AS lists_shown,
    SUM(CASE WHEN kind = 'recommendation_shown'
        THEN CAST(array_length(json_get_array(payload, '/recommendation/products')) AS BIGINT) ELSE 0 END) AS products_shown,
    SUM(CASE WHEN kind = 'recommendation_click' THEN 1 ELSE 0 END) AS clicks
FROM bronze.activity
WHERE kind IN ('recommendation_shown', 'recommendation_click')
GROUP BY 1, 2, 3
