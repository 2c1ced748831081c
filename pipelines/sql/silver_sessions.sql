-- target: silver.sessions
-- mode: merge
-- keys: session_id
-- columns: session_id string, visitor_id string, started_at timestamp, ended_at timestamp, events bigint, product_views bigint, cart_adds bigint, wishlist_adds bigint, searches bigint, shop_visits bigint, device string, country string, city string
-- source: bronze.activity
-- trigger: every 5s
--
-- One row per visit: a visitor's (pseudonymous session or account id) activity until 30 minutes
-- pass without any, as web analytics counts sessions. A visit can span runs, so each run continues
-- the visitor's latest visit from this table when its first new event comes within 30 minutes of
-- that visit's end, and starts new visits after longer gaps; a visit's id is the visitor and its
-- first event's time. Device, country and city are those the visit landed with. An event that
-- arrives late joins the visitor's latest visit rather than reopening an older one.
WITH slice AS (
    SELECT actor_id AS visitor_id, at, kind,
           json_get_str(payload, 'device') AS device,
           json_get_str(payload, 'country') AS country,
           json_get_str(payload, 'city') AS city
    FROM bronze.activity
    WHERE actor_id IS NOT NULL
),
latest AS (
    SELECT s.session_id, s.visitor_id, s.started_at, s.ended_at, s.events, s.product_views,
           s.cart_adds, s.wishlist_adds, s.searches, s.shop_visits, s.device, s.country, s.city
    FROM silver.sessions AS s
    JOIN (
        SELECT visitor_id, MAX(started_at) AS started_at
        FROM silver.sessions
        WHERE visitor_id IN (SELECT visitor_id FROM slice)
        GROUP BY visitor_id
    ) AS newest ON s.visitor_id = newest.visitor_id AND s.started_at = newest.started_at
),
gaps AS (
    SELECT slice.*,
           LAG(at) OVER (PARTITION BY slice.visitor_id ORDER BY at) AS previous_at
    FROM slice
),
starts AS (
    SELECT gaps.*, latest.session_id AS open_session,
           -- The gap is measured from the visit's end so far: the previous new event, or the
           -- latest visit's end when that is later (a late event must not hide it).
           CASE
               WHEN previous_at IS NULL AND latest.ended_at IS NULL THEN TRUE
               WHEN previous_at IS NULL THEN at > latest.ended_at + INTERVAL '30 minutes'
               WHEN latest.ended_at IS NULL OR previous_at > latest.ended_at
                   THEN at > previous_at + INTERVAL '30 minutes'
               ELSE at > latest.ended_at + INTERVAL '30 minutes'
           END AS starts_visit
    FROM gaps LEFT JOIN latest ON latest.visitor_id = gaps.visitor_id
),
numbered AS (
    SELECT starts.*,
           SUM(CASE WHEN starts_visit THEN 1 ELSE 0 END)
               OVER (PARTITION BY visitor_id ORDER BY at ROWS UNBOUNDED PRECEDING) AS visit
    FROM starts
),
assigned AS (
    SELECT numbered.*,
           CASE
               WHEN visit = 0 THEN open_session
               ELSE visitor_id || '@' || CAST(MIN(at) OVER (PARTITION BY visitor_id, visit) AS VARCHAR)
           END AS session_id,
           ROW_NUMBER() OVER (PARTITION BY visitor_id, visit ORDER BY at) AS position
    FROM numbered
),
visits AS (
    SELECT session_id, visitor_id,
           MIN(at) AS started_at,
           MAX(at) AS ended_at,
           COUNT(*) AS events,
           SUM(CASE WHEN kind = 'product_view' THEN 1 ELSE 0 END) AS product_views,
           SUM(CASE WHEN kind = 'add_to_cart' THEN 1 ELSE 0 END) AS cart_adds,
           SUM(CASE WHEN kind = 'add_to_wishlist' THEN 1 ELSE 0 END) AS wishlist_adds,
           SUM(CASE WHEN kind = 'search' THEN 1 ELSE 0 END) AS searches,
           SUM(CASE WHEN kind = 'shop_visit' THEN 1 ELSE 0 END) AS shop_visits,
           MAX(CASE WHEN position = 1 THEN device END) AS device,
           MAX(CASE WHEN position = 1 THEN country END) AS country,
           MAX(CASE WHEN position = 1 THEN city END) AS city
    FROM assigned
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
LEFT JOIN latest AS l ON l.session_id = v.session_id
