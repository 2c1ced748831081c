//! Real time: chat over WebSockets between a shopper and a shop, who may take part, reconnects,
//! unread counts across devices, flood limits, socket refusals, and the live log stream.

use crate::support::{CATALOG_SELLER, Served, TestApp, User};
use axum::http::{Method, StatusCode};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One device: a socket and what it has been told.
struct Device {
    ws: Stream,
    /// The last chat position this device saw.
    position: u64,
    /// Frames read while waiting for another kind, oldest first.
    held: std::collections::VecDeque<Value>,
}

fn request(
    served: &Served,
    token: Option<&str>,
    since: Option<u64>,
    origin: Option<&str>,
) -> tungstenite::handshake::client::Request {
    let query = since.map(|s| format!("?since={s}")).unwrap_or_default();
    let mut request = format!("ws://{}/ws{query}", served.addr)
        .into_client_request()
        .unwrap();
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    request
}

impl Device {
    async fn connect(served: &Served, token: &str, since: Option<u64>) -> Device {
        let (ws, _) = tokio_tungstenite::connect_async(request(served, Some(token), since, None))
            .await
            .expect("the socket opens");
        let mut device = Device {
            ws,
            position: 0,
            held: Default::default(),
        };
        let hello = device.next_of("hello").await;
        device.position = hello["position"].as_u64().unwrap();
        device
    }

    /// The next frame, held ones first.
    async fn next(&mut self) -> Value {
        match self.held.pop_front() {
            Some(frame) => frame,
            None => self.read().await,
        }
    }

    /// The next frame from the socket (pings are answered by the library).
    async fn read(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .expect("a frame within 20 s")
                .expect("the socket is open")
                .expect("a good frame");
            if let Message::Text(text) = frame {
                let value: Value = serde_json::from_str(&text).unwrap();
                if let Some(p) = value["position"].as_u64()
                    && value["type"] != "hello"
                {
                    self.position = self.position.max(p);
                }
                return value;
            }
        }
    }

    /// The next frame of `kind`; frames of other kinds that arrive first are held for later,
    /// in order (the answer to a send and the message it made may come either way round).
    async fn next_of(&mut self, kind: &str) -> Value {
        if let Some(i) = self.held.iter().position(|f| f["type"] == kind) {
            return self.held.remove(i).unwrap();
        }
        loop {
            let frame = self.read().await;
            if frame["type"] == kind {
                return frame;
            }
            self.held.push_back(frame);
        }
    }

    /// The message frame carrying `text`, passing over earlier messages.
    async fn message(&mut self, text: &str) -> Value {
        loop {
            let frame = self.next_of("message").await;
            if frame["message"]["text"] == text {
                return frame;
            }
        }
    }

    async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    async fn say(&mut self, conversation: &str, text: &str) -> Value {
        self.send(json!({"type": "send", "ref": text, "conversation": conversation, "text": text}))
            .await;
        self.next_of("sent").await
    }
}

struct Chat {
    t: TestApp,
    served: Served,
    shopper: User,
    seller: String,
    conversation: String,
    shop: String,
}

async fn chat(dir: &std::path::Path) -> Chat {
    let t = TestApp::start(dir).await;
    let catalog = t.seed_catalog().await;
    let seller = t.sign_in(CATALOG_SELLER).await;
    let shopper = t.user("asker@example.com", domain::Role::Shopper).await;
    let start = json!({"shop_id": catalog.shop.to_string()});
    let opened = t
        .call(
            Method::POST,
            "/api/conversations",
            Some(&shopper.token),
            Some(start.clone()),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    let again = t
        .call(
            Method::POST,
            "/api/conversations",
            Some(&shopper.token),
            Some(start),
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "one conversation per shopper and shop"
    );
    assert_eq!(again.json()["id"], opened.json()["id"]);
    let conversation = opened.json()["id"].as_str().unwrap().to_string();
    let served = t.serve().await;
    Chat {
        t,
        served,
        shopper,
        seller,
        conversation,
        shop: catalog.shop.to_string(),
    }
}

async fn post_message(c: &Chat, token: &str, text: &str) -> crate::support::Response {
    c.t.call(
        Method::POST,
        &format!("/api/conversations/{}/messages", c.conversation),
        Some(token),
        Some(json!({"text": text})),
    )
    .await
}

fn texts(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .map(|f| f["message"]["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn two_sides_chat_in_order_and_a_stranger_cannot_read_write_or_listen() {
    let dir = tempfile::tempdir().unwrap();
    let c = chat(dir.path()).await;
    let mut shopper = Device::connect(&c.served, &c.shopper.token, None).await;
    let mut seller = Device::connect(&c.served, &c.seller, None).await;
    let stranger =
        c.t.user("stranger@example.com", domain::Role::Shopper)
            .await;
    let mut snoop = Device::connect(&c.served, &stranger.token, None).await;

    // The shopper writes on the socket, the seller answers over REST, interleaved.
    let mut expected = Vec::new();
    for n in 0..4 {
        let line = format!("question {n}");
        let sent = shopper.say(&c.conversation, &line).await;
        assert_eq!(sent["ref"], line.as_str());
        expected.push(line);
        let answer = format!("answer {n}");
        let posted = post_message(&c, &c.seller, &answer).await;
        assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
        expected.push(answer);
    }
    for device in [&mut shopper, &mut seller] {
        let mut frames = Vec::new();
        while frames.len() < expected.len() {
            frames.push(device.next_of("message").await);
        }
        assert_eq!(
            texts(&frames),
            expected,
            "both sides see every message, in order"
        );
        let positions: Vec<u64> = frames
            .iter()
            .map(|f| f["position"].as_u64().unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]));
    }

    // The stranger can neither read nor write, over REST or the socket.
    let history = format!("/api/conversations/{}/messages", c.conversation);
    let read =
        c.t.call(Method::GET, &history, Some(&stranger.token), None)
            .await;
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    let write = post_message(&c, &stranger.token, "let me in").await;
    assert_eq!(write.status, StatusCode::NOT_FOUND);
    snoop
        .send(json!({"type": "send", "ref": "x", "conversation": c.conversation, "text": "hi"}))
        .await;
    assert_eq!(snoop.next_of("error").await["code"], "not_found");
    snoop
        .send(json!({"type": "typing", "conversation": c.conversation}))
        .await;
    assert_eq!(snoop.next_of("error").await["code"], "not_found");
    let list =
        c.t.call(
            Method::GET,
            "/api/conversations",
            Some(&stranger.token),
            None,
        )
        .await;
    assert_eq!(list.json()["items"], json!([]));
    // Nor does anything of that conversation reach the stranger's socket: it opens its own and
    // sees its own message arrive after everything above was published.
    let own =
        c.t.call(
            Method::POST,
            "/api/conversations",
            Some(&stranger.token),
            Some(json!({"shop_id": c.shop})),
        )
        .await;
    let own_id = own.json()["id"].as_str().unwrap().to_string();
    snoop.say(&own_id, "my own question").await;
    let delivered = snoop.next_of("message").await;
    assert_eq!(delivered["message"]["conversation"], own_id.as_str());
    assert_eq!(delivered["message"]["text"], "my own question");

    // Both sides see the history over REST too, oldest first, with a cursor for older pages.
    let page =
        c.t.call(
            Method::GET,
            &format!("{history}?limit=3"),
            Some(&c.shopper.token),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let page = page.json();
    let items: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    let newest: Vec<&str> = expected[5..].iter().map(String::as_str).collect();
    assert_eq!(items, newest);
    let older = page["next_before"].as_u64().unwrap();
    let earlier =
        c.t.call(
            Method::GET,
            &format!("{history}?limit=10&before={older}"),
            Some(&c.seller),
            None,
        )
        .await
        .json();
    assert_eq!(earlier["items"].as_array().unwrap().len(), 5);
    assert!(
        earlier["next_before"].is_null(),
        "the first page has nothing before it"
    );
}

#[tokio::test]
async fn a_reconnecting_device_receives_what_it_missed_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let c = chat(dir.path()).await;
    let mut shopper = Device::connect(&c.served, &c.shopper.token, None).await;
    shopper
        .say(&c.conversation, "is the mug dishwasher safe?")
        .await;
    shopper.next_of("message").await;
    let seen = shopper.position;
    drop(shopper);

    // While the shopper is away, two answers; then it reconnects while more keep coming.
    for n in 0..2 {
        post_message(&c, &c.seller, &format!("while away {n}")).await;
    }
    let seller = c.seller.clone();
    let t_conversation = c.conversation.clone();
    let app = c.t.app.clone();
    let more = tokio::spawn(async move {
        let principal = api::auth::principal_for_token(&app, &seller, false).unwrap();
        for n in 0..15 {
            api::chat::send(
                &app,
                &principal,
                t_conversation.parse().unwrap(),
                format!("meanwhile {n}"),
                None,
                None,
            )
            .await
            .unwrap();
        }
    });
    let mut back = Device::connect(&c.served, &c.shopper.token, Some(seen)).await;
    let mut frames = Vec::new();
    while frames.len() < 17 {
        frames.push(back.next_of("message").await);
    }
    more.await.unwrap();
    let got = texts(&frames);
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), 17, "no message twice: {got:?}");
    let mut want: Vec<String> = (0..2).map(|n| format!("while away {n}")).collect();
    want.extend((0..15).map(|n| format!("meanwhile {n}")));
    assert_eq!(got, want, "everything missed, in order");
    // And nothing twice later: the next message is one sent after all of the above, so any
    // repeat of theirs would have come before it.
    post_message(&c, &c.seller, "last one").await;
    assert_eq!(back.next_of("message").await["message"]["text"], "last one");
    assert!(
        back.held.is_empty(),
        "nothing else arrived: {:?}",
        back.held
    );
}

#[tokio::test]
async fn unread_counts_agree_between_rest_and_every_device() {
    let dir = tempfile::tempdir().unwrap();
    let c = chat(dir.path()).await;
    let mut phone = Device::connect(&c.served, &c.seller, None).await;
    let mut laptop = Device::connect(&c.served, &c.seller, None).await;
    let mut shopper = Device::connect(&c.served, &c.shopper.token, None).await;
    for n in 1..=3 {
        shopper.say(&c.conversation, &format!("hello {n}")).await;
        for device in [&mut phone, &mut laptop] {
            let frame = device.next_of("message").await;
            assert_eq!(frame["unread"]["count"], n);
            assert_eq!(frame["unread"]["total"], n);
        }
    }
    let rest_unread = |token: String| {
        let t = &c.t;
        async move {
            t.call(Method::GET, "/api/conversations", Some(&token), None)
                .await
                .json()["unread"]
                .as_u64()
                .unwrap()
        }
    };
    assert_eq!(rest_unread(c.seller.clone()).await, 3);

    // Read on the phone: the laptop and REST agree at once; the shopper sees it was read.
    phone
        .send(json!({"type": "read", "conversation": c.conversation}))
        .await;
    for device in [&mut phone, &mut laptop] {
        let read = device.next_of("read").await;
        assert_eq!(read["side"], "shop");
        assert_eq!(
            (
                read["unread"]["count"].as_u64(),
                read["unread"]["total"].as_u64()
            ),
            (Some(0), Some(0))
        );
    }
    assert_eq!(rest_unread(c.seller.clone()).await, 0);
    let receipt = shopper.next_of("read").await;
    assert_eq!(receipt["side"], "shop");
    // The shopper's own unread are untouched by the shop's reading.
    assert_eq!(receipt["unread"]["total"], 0);

    // A reply is unread for the shopper until its history page is opened (which reads it).
    post_message(&c, &c.seller, "yes, it is").await;
    assert_eq!(shopper.message("yes, it is").await["unread"]["total"], 1);
    assert_eq!(rest_unread(c.shopper.token.clone()).await, 1);
    let history = format!("/api/conversations/{}/messages", c.conversation);
    c.t.call(Method::GET, &history, Some(&c.shopper.token), None)
        .await;
    assert_eq!(shopper.next_of("read").await["unread"]["total"], 0);
    assert_eq!(rest_unread(c.shopper.token.clone()).await, 0);
}

#[tokio::test]
async fn a_flood_from_one_sender_is_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let c = chat(dir.path()).await;
    let mut shopper = Device::connect(&c.served, &c.shopper.token, None).await;
    let limit = api::chat::DEFAULT_LIMIT.max as usize;
    let (mut sent, mut refused) = (0, 0);
    for n in 0..limit + 10 {
        shopper
            .send(json!({"type": "send", "ref": n.to_string(), "conversation": c.conversation, "text": "buy now!"}))
            .await;
    }
    while sent + refused < limit + 10 {
        let frame = shopper.next().await;
        match frame["type"].as_str().unwrap() {
            "sent" => sent += 1,
            "error" => {
                assert_eq!(frame["code"], "too_many_requests", "{frame}");
                refused += 1;
            }
            _ => {}
        }
    }
    assert_eq!((sent, refused), (limit, 10));
    let over_rest = post_message(&c, &c.shopper.token, "and again").await;
    assert_eq!(over_rest.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(over_rest.headers.contains_key("retry-after"));
    // The seller is not limited by the shopper's flood.
    let reply = post_message(&c, &c.seller, "please stop").await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let history = format!("/api/conversations/{}/messages?limit=100", c.conversation);
    let stored =
        c.t.call(Method::GET, &history, Some(&c.seller), None)
            .await
            .json();
    assert_eq!(stored["items"].as_array().unwrap().len(), limit + 1);
}

#[tokio::test]
async fn sockets_without_a_session_or_from_another_site_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = chat(dir.path()).await;
    let status = |result: Result<_, tungstenite::Error>| match result {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("refused the wrong way: {other}"),
        Ok(_) => 101,
    };
    let anonymous = tokio_tungstenite::connect_async(request(&c.served, None, None, None)).await;
    assert_eq!(status(anonymous.map(|_| ())), 401);
    let forged = request(&c.served, Some("not-a-token"), None, None);
    assert_eq!(
        status(tokio_tungstenite::connect_async(forged).await.map(|_| ())),
        401
    );
    let evil = request(
        &c.served,
        Some(&c.shopper.token),
        None,
        Some("https://evil.example"),
    );
    assert_eq!(
        status(tokio_tungstenite::connect_async(evil).await.map(|_| ())),
        403
    );
    let own_origin = format!("http://{}", c.served.addr);
    let ours = request(&c.served, Some(&c.shopper.token), None, Some(&own_origin));
    assert_eq!(
        status(tokio_tungstenite::connect_async(ours).await.map(|_| ())),
        101
    );
    // Only admins follow the log stream.
    let mut shopper = Device::connect(&c.served, &c.shopper.token, None).await;
    shopper.send(json!({"type": "logs", "follow": true})).await;
    assert_eq!(shopper.next_of("error").await["code"], "forbidden");
}

#[tokio::test]
async fn presence_follows_the_sockets_and_the_other_side_hears_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = chat(dir.path()).await;
    let presence = |token: String| {
        let t = &c.t;
        async move {
            t.call(Method::GET, "/api/conversations", Some(&token), None)
                .await
                .json()["items"][0]["with"]["presence"]
                .clone()
        }
    };
    assert_eq!(presence(c.shopper.token.clone()).await["online"], false);
    let mut shopper = Device::connect(&c.served, &c.shopper.token, None).await;
    let seller = Device::connect(&c.served, &c.seller, None).await;
    let online = shopper.next_of("presence").await;
    assert_eq!(
        (online["conversation"].as_str(), online["online"].as_bool()),
        (Some(c.conversation.as_str()), Some(true))
    );
    assert_eq!(presence(c.shopper.token.clone()).await["online"], true);
    drop(seller);
    let offline = shopper.next_of("presence").await;
    assert_eq!(offline["online"], false);
    let seen = presence(c.shopper.token.clone()).await;
    assert_eq!(seen["online"], false);
    assert!(seen["last_seen"].is_string(), "{seen}");
}

#[tokio::test]
async fn a_handlers_log_line_reaches_the_live_page_at_once_and_bronze_after_the_sink() {
    let dir = tempfile::tempdir().unwrap();
    let c = chat(dir.path()).await;
    let admin = c.t.user("watcher@example.com", domain::Role::Admin).await;
    let mut live = Device::connect(&c.served, &admin.token, None).await;
    live.send(json!({"type": "logs", "follow": true})).await;
    assert_eq!(live.next_of("following").await["logs"], true);

    let other =
        c.t.user("newcomer@example.com", domain::Role::Shopper)
            .await;
    let opened =
        c.t.call(
            Method::POST,
            "/api/conversations",
            Some(&other.token),
            Some(json!({"shop_id": c.shop})),
        )
        .await;
    let id = opened.json()["id"].as_str().unwrap().to_string();
    let answered = std::time::Instant::now();
    let line = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            let frame = live.next().await;
            if frame["type"] == "log" && frame["line"]["fields"]["conversation"] == id.as_str() {
                return frame["line"].clone();
            }
        }
    })
    .await
    .expect("the handler's line reaches the live page within a second");
    println!("log line live after {:?}", answered.elapsed());
    assert_eq!(line["message"], "conversation started");
    assert_eq!(
        (line["level"].as_str(), line["source"].as_str()),
        (Some("info"), Some("api"))
    );
    assert!(
        line["spans"][0]
            .as_str()
            .unwrap()
            .contains("/api/conversations"),
        "the request's span travels with the line: {line}"
    );

    // In bronze.logs once the sink has copied the topic, and downloadable by admins.
    c.t.lake_reaches(
        ingest::Topic::Logs,
        c.t.app.log.records_in(ingest::Topic::Logs),
    )
    .await;
    let sql = format!("select count(*) as n from bronze.logs where payload like '%{id}%'");
    assert_eq!(c.t.sql_count(&sql).await, 1);
    let page =
        c.t.call(
            Method::GET,
            &format!("/api/admin/logs?q={id}&level=info&source=api"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.json()["items"][0]["message"], "conversation started");
    let csv =
        c.t.call(
            Method::GET,
            &format!("/api/admin/logs?q={id}&format=csv"),
            Some(&admin.token),
            None,
        )
        .await;
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv")
    );
    assert_eq!(csv.body.lines().count(), 2, "{}", csv.body);
    let ndjson =
        c.t.call(
            Method::GET,
            &format!("/api/admin/logs?q={id}&format=ndjson"),
            Some(&admin.token),
            None,
        )
        .await;
    let parsed: Value = serde_json::from_str(ndjson.body.trim()).unwrap();
    assert_eq!(parsed["fields"]["conversation"], id.as_str());
    let errors_only =
        c.t.call(
            Method::GET,
            &format!("/api/admin/logs?q={id}&level=error"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(errors_only.json()["items"], json!([]));
    // Shoppers cannot read the logs.
    let refused =
        c.t.call(Method::GET, "/api/admin/logs", Some(&c.shopper.token), None)
            .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Browsers' lines join the same stream, checked and limited.
    let browser = c
        .t
        .post_json("/api/logs", json!({"lines": [{"level": "error", "message": format!("boom {id}"), "page": "/cart"}]}))
        .await;
    assert_eq!(browser.status, StatusCode::ACCEPTED, "{}", browser.body);
    let from_browser = loop {
        let frame = live.next().await;
        if frame["type"] == "log" && frame["line"]["source"] == "browser" {
            break frame["line"].clone();
        }
    };
    assert_eq!(
        (
            from_browser["target"].as_str(),
            from_browser["fields"]["role"].as_str()
        ),
        (Some("/cart"), Some("anonymous"))
    );
    let bad =
        c.t.post_json(
            "/api/logs",
            json!({"lines": [{"level": "loud", "message": "x"}]}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let huge =
        c.t.post_json(
            "/api/logs",
            json!({"lines": [{"level": "info", "message": "x".repeat(64 * 1024)}]}),
        )
        .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn an_overloaded_log_path_drops_and_counts_lines_but_never_holds_up_a_request() {
    let dir = tempfile::tempdir().unwrap();
    // No workers: nothing drains this service's log buffer, as if the log had stopped.
    let mut config = api::Config::new(dir.path());
    config.background_workers = false;
    let t = TestApp::start_with(config).await;
    let catalog = t.seed_catalog().await;
    let buffer = api::logs::capture::BUFFER;
    for n in 0..buffer + 100 {
        tracing::info!(target: "api::overload", n, "filling the log buffer");
    }
    let dropped_before = t.app.logs.feed.dropped();
    assert!(
        dropped_before >= 100,
        "a full buffer drops: {dropped_before}"
    );
    // Requests that write log lines still complete, every one of them; their lines are counted.
    for n in 0..20 {
        let shopper = t
            .user(&format!("busy{n}@example.com"), domain::Role::Shopper)
            .await;
        let opened = tokio::time::timeout(
            Duration::from_secs(30),
            t.call(
                Method::POST,
                "/api/conversations",
                Some(&shopper.token),
                Some(json!({"shop_id": catalog.shop.to_string()})),
            ),
        )
        .await
        .expect("the request is not held up by the full log buffer");
        assert_eq!(opened.status, StatusCode::CREATED);
    }
    assert!(t.app.logs.feed.dropped() >= dropped_before + 20);
    let metrics = t.get("/metrics").await.body;
    let dropped_line = metrics
        .lines()
        .find(|l| l.starts_with("marketplace_log_lines_total{outcome=\"dropped\"}"))
        .expect("the dropped lines are in /metrics");
    let count: f64 = dropped_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= (dropped_before + 20) as f64);
}

#[tokio::test]
async fn notifications_reach_the_bell_as_they_are_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let c = chat(dir.path()).await;
    let mut shopper = Device::connect(&c.served, &c.shopper.token, None).await;
    let mut other = Device::connect(&c.served, &c.seller, None).await;
    let notification = domain::Notification {
        id: "test:shipped".into(),
        recipient: domain::Recipient::Account(c.shopper.id),
        kind: "order.status".into(),
        title: "Your parcel is on its way".into(),
        body: String::new(),
        link: Some("/orders".into()),
        at: chrono::Utc::now(),
    };
    let deliver = domain::NotificationCommand::Deliver(vec![notification]);
    c.t.app
        .execute(
            domain::Actor::System,
            domain::Command::Notification(deliver),
        )
        .await
        .unwrap();
    let frame = shopper.next_of("notification").await;
    assert_eq!(frame["notification"]["title"], "Your parcel is on its way");
    assert_eq!(frame["unread_notifications"], 1);
    c.t.call(
        Method::POST,
        "/api/notifications/read-all",
        Some(&c.shopper.token),
        None,
    )
    .await;
    assert_eq!(
        shopper.next_of("notifications_read").await["unread_notifications"],
        0
    );
    // The seller's socket heard nothing of it: its next frame is the answer to its own ping.
    other.send(json!({"type": "ping"})).await;
    other.next_of("pong").await;
    assert!(
        other.held.iter().all(|f| f["type"] != "notification"),
        "{:?}",
        other.held
    );
}
