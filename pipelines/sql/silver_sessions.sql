-- target: silver.sessions
-- mode: merge
-- keys: session_id
-- columns: session_id string, visitor_id string, started_at timestamp, ended_at timestamp, events bigint, product_views bigint, cart_adds bigint, wishlist_adds bigint, searches bigint, shop_visits bigint, device string, country string, city string
-- source: bronze.activity
-- trigger: every 5s
--
-- One row per visit: a visitor's (pseudonymous session or account id) activity until 30 minutes
-- pass without any, as web analytics counts sessions. Visits span runs, so each run lays its new
-- events on one timeline with the visitor's visits this table already has near them, and cuts the
-- timeline where 30 minutes pass: new events that fall in or next to a known visit join it (the
-- earliest, should a late event bridge two), the others make new visits, whose id is the visitor
-- and the first event's time. Device, country and city are those the visit landed with.
WITH slice AS (
    SELECT id AS event_id, actor_id AS visitor_id, at, kind,
           json_get_str(payload, 'device') AS device,
           json_get_str(payload, 'country') AS country,
           json_get_str(payload, 'city') AS city
    FROM bronze.activity
    WHERE actor_id IS NOT NULL
),
first_seen AS (
    SELECT visitor_id, MIN(at) AS first_at FROM slice GROUP BY visitor_id
),
known AS (
    -- The visits a new event could fall into or next to.
    SELECT s.session_id, s.visitor_id, s.started_at, s.ended_at, s.events, s.product_views,
           s.cart_adds, s.wishlist_adds, s.searches, s.shop_visits, s.device, s.country, s.city
    FROM silver.sessions AS s
    JOIN first_seen AS f ON f.visitor_id = s.visitor_id
    WHERE s.ended_at >= f.first_at - INTERVAL '30 minutes'
),
timeline AS (
    SELECT visitor_id, at AS start_at, at AS end_at, CAST(NULL AS VARCHAR) AS known_session,
           kind, device, country, city, TRUE AS is_new
    FROM slice
    UNION ALL
    SELECT visitor_id, started_at, ended_at, session_id,
           CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), FALSE
    FROM known
),
gaps AS (
    SELECT timeline.*,
           MAX(end_at) OVER (PARTITION BY visitor_id ORDER BY start_at, is_new
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous_end
    FROM timeline
),
numbered AS (
    SELECT gaps.*,
           SUM(CASE WHEN previous_end IS NULL OR start_at > previous_end + INTERVAL '30 minutes' THEN 1 ELSE 0 END)
               OVER (PARTITION BY visitor_id ORDER BY start_at, is_new ROWS UNBOUNDED PRECEDING) AS visit
    FROM gaps
),
assigned AS (
    SELECT numbered.*,
           COALESCE(
               FIRST_VALUE(known_session) OVER (PARTITION BY visitor_id, visit ORDER BY known_session IS NULL, start_at),
               visitor_id || '@' || CAST(MIN(start_at) OVER (PARTITION BY visitor_id, visit) AS VARCHAR)
           ) AS session_id
    FROM numbered
),
positioned AS (
    SELECT assigned.*, ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY start_at) AS position
    FROM assigned
    WHERE is_new
),
visits AS (
    SELECT session_id, visitor_id,
           MIN(start_at) AS started_at,
           MAX(start_at) AS ended_at,
           COUNT(*) AS events,
           SUM(CASE WHEN kind = 'product_view' THEN 1 ELSE 0 END) AS product_views,
           SUM(CASE WHEN kind = 'add_to_cart' THEN 1 ELSE 0 END) AS cart_adds,
           SUM(CASE WHEN kind = 'add_to_wishlist' THEN 1 ELSE 0 END) AS wishlist_adds,
           SUM(CASE WHEN kind = 'search' THEN 1 ELSE 0 END) AS searches,
           SUM(CASE WHEN kind = 'shop_visit' THEN 1 ELSE 0 END) AS shop_visits,
           MAX(CASE WHEN position = 1 THEN device END) AS device,
           MAX(CASE WHEN position = 1 THEN country END) AS country,
           MAX(CASE WHEN position = 1 THEN city END) AS city
    FROM positioned
    GROUP BY session_id, visitor_id
)
SELECT
    v.session_id,
    v.visitor_id,
    CASE WHEN l.started_at IS NOT NULL AND l.started_at < v.started_at THEN l.started_at ELSE v.started_at END AS started_at,
    CASE WHEN l.ended_at IS NOT NULL AND l.ended_at > v.ended_at THEN l.ended_at ELSE v.ended_at END AS ended_at,
    CAST(v.events + COALESCE(l.events, 0) AS BIGINT) AS events,
    CAST(v.product_views + COALESCE(l.product_views, 0) AS BIGINT) AS product_views,
    CAST(v.cart_adds + COALESCE(l.cart_adds, 0) AS BIGINT) AS cart_adds,
    CAST(v.wishlist_adds + COALESCE(l.wishlist_adds, 0) AS BIGINT) AS wishlist_adds,
    CAST(v.searches + COALESCE(l.searches, 0) AS BIGINT) AS searches,
    CAST(v.shop_visits + COALESCE(l.shop_visits, 0) AS BIGINT) AS shop_visits,
    COALESCE(l.device, v.device) AS device,
    COALESCE(l.country, v.country) AS country,
    COALESCE(l.city, v.city) AS city
FROM visits AS v
LEFT JOIN known AS l ON l.session_id = v.session_id
