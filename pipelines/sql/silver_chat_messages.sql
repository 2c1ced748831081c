-- target: silver.chat_messages
-- mode: append
-- source: bronze.chat
-- trigger: every 2s
--
-- Chat messages without their words: which conversation, which side wrote (`shopper` or `shop`),
-- when, how long and whether with an image — enough for volumes and shops' response times. The
-- text is the participants' own and stays out of silver and gold. `position` is the message's
-- place in the chat stream (the order within a conversation).
SELECT
    id AS event_id,
    at,
    CAST(at AS DATE) AS day,
    json_get_str(payload, 'conversation') AS conversation_id,
    CAST(json_get_str(payload, 'position') AS BIGINT) AS position,
    json_get_str(payload, 'side') AS side,
    CAST(character_length(coalesce(json_get_str(payload, 'text'), '')) AS BIGINT) AS text_length,
    json_get_str(payload, 'image') IS NOT NULL AS has_image,
    "partition",
    "offset"
FROM bronze.chat
WHERE kind = 'chat.message'
