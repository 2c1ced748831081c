//! `marketplace bench ws`: `--sockets` WebSockets on loopback, half shoppers and half shops, in
//! pairs that share a conversation. Each socket sends chat messages at an even pace so that all
//! together send `--rate` messages a second for `--seconds`; every message goes the whole way —
//! socket → command path → durable append to the `chat` topic → state → the hub → the other side's
//! socket. Figures: delivery latency from send to the other side's receipt (p50/p99), messages/s
//! delivered, and messages lost (must be 0).
//!
//! The sockets' clients run in this process, on the same cores as the service: the figures
//! include their cost. Senders are allowed more than the default chat rate limit (20 per 10 s),
//! which would otherwise refuse a pace above 2 messages a second per sender.

use super::{Figure, figure, percentile, print};
use anyhow::Context as _;
use domain::{
    AccountCommand, Actor, ChatCommand, Command, ConversationId, NewAccount, NewShop, PasswordHash,
    Role, ShopId,
};
use futures::{SinkExt, StreamExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub async fn bench(
    data_dir: &Path,
    json: bool,
    sockets: usize,
    rate: f64,
    seconds: f64,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        sockets >= 2 && sockets % 2 == 0,
        "--sockets must be even and at least 2"
    );
    let dir = data_dir.join("bench-ws");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).context("clearing the previous bench's data")?;
    }
    let mut config = api::Config::new(&dir);
    config.background_workers = false;
    config.chat_limit = api::auth::Limit::new(1_000_000, 10);
    let app = api::App::start(config).await?;
    let pairs = sockets / 2;
    eprintln!("opening {pairs} shops, {pairs} shoppers and their conversations…");
    let people = seed(&app, pairs).await?;
    let addr = super::api::serve(portals::site(app.clone())).await?;

    eprintln!("connecting {sockets} sockets…");
    let start = Instant::now();
    let mut connections = Vec::with_capacity(sockets);
    for chunk in people.chunks(200) {
        let opened = futures::future::join_all(chunk.iter().map(|(token, conversation)| {
            let token = token.clone();
            let conversation = *conversation;
            async move { connect(addr, &token).await.map(|ws| (ws, conversation)) }
        }))
        .await;
        for ws in opened {
            connections.push(ws?);
        }
    }
    let connect_seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "{sockets} sockets open in {connect_seconds:.1} s; sending {rate} messages/s for {seconds} s…"
    );

    // Each socket sends every `interval`, its first send staggered across one interval.
    let per_socket = rate / sockets as f64;
    let interval = Duration::from_secs_f64(1.0 / per_socket);
    let epoch = Instant::now() + Duration::from_millis(500);
    let deadline = epoch + Duration::from_secs_f64(seconds);
    let sent_total = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(n, (ws, conversation))| {
            let offset = interval.mul_f64(n as f64 / sockets as f64);
            let sent_total = sent_total.clone();
            tokio::spawn(socket_load(
                ws,
                conversation,
                n,
                epoch,
                offset,
                interval,
                deadline,
                sent_total,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0u64;
    for task in tasks {
        let run = task.await??;
        latencies.extend(run.latencies_ms);
        errors += run.errors;
    }
    let sent = sent_total.load(std::sync::atomic::Ordering::Relaxed);
    latencies.sort_by(f64::total_cmp);
    let delivered = latencies.len() as u64;
    let figures: Vec<Figure> = vec![
        figure("sockets", sockets as f64, "sockets", None),
        figure("sockets opened", connect_seconds, "s", None),
        figure("messages sent", sent as f64, "messages", None),
        figure(
            "messages delivered",
            delivered as f64,
            "messages",
            Some(sent as f64),
        ),
        figure("messages refused", errors as f64, "messages", None),
        figure(
            "delivered per second",
            delivered as f64 / seconds,
            "msg/s",
            Some(rate),
        ),
        figure("delivery p50", percentile(&latencies, 0.50), "ms", None),
        figure(
            "delivery p99",
            percentile(&latencies, 0.99),
            "ms",
            Some(50.0),
        ),
        figure(
            "delivery max",
            latencies.last().copied().unwrap_or(0.0),
            "ms",
            None,
        ),
    ];
    print(&figures, "ws", json);
    app.shutdown().await;
    Ok(())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr, token: &str) -> anyhow::Result<Socket> {
    let mut request = format!("ws://{addr}/ws").into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("opening a socket")?;
    Ok(ws)
}

/// One shop and one shopper per pair with their conversation; returns a bearer token and the
/// conversation for every socket (shopper, then shop, for each pair).
async fn seed(app: &api::AppState, pairs: usize) -> anyhow::Result<Vec<(String, ConversationId)>> {
    let site = domain::SiteConfig {
        name: "Bench".into(),
        categories: vec![domain::Category {
            slug: "misc".into(),
            name: "Misc".into(),
            subcategories: vec![],
        }],
        ..Default::default()
    };
    app.execute(Actor::System, Command::ConfigureSite(site))
        .await?;
    // One hash for everyone: the bench signs in with minted tokens, not passwords.
    let hash = api::auth::password::hash("bench password, long enough").await?;
    let register = |n: usize, role: Role| {
        let id = domain::AccountId(uuid::Uuid::now_v7());
        let command = Command::Account(AccountCommand::Register {
            account: NewAccount {
                id,
                email: format!(
                    "{}{n}@bench.test",
                    if role == Role::Seller {
                        "seller"
                    } else {
                        "shopper"
                    }
                ),
                name: format!("Bench {n}"),
                role,
                phone: None,
                country: None,
            },
            password_hash: PasswordHash(hash.0.clone()),
        });
        (id, command)
    };
    let mut out = Vec::with_capacity(pairs * 2);
    for chunk in (0..pairs).collect::<Vec<_>>().chunks(250) {
        let mut people = Vec::new();
        let mut commands = Vec::new();
        for &n in chunk {
            let (seller, a) = register(n, Role::Seller);
            let (shopper, b) = register(n, Role::Shopper);
            commands.push(a);
            commands.push(b);
            people.push((seller, shopper, ShopId(uuid::Uuid::now_v7())));
        }
        run_all(app, Actor::System, commands).await?;
        let shops = people
            .iter()
            .enumerate()
            .map(|(i, (seller, _, shop))| {
                Command::CreateShop(NewShop {
                    id: *shop,
                    owner: Some(*seller),
                    name: format!("Bench shop {}", chunk[i]),
                    bio: String::new(),
                    category: "misc".into(),
                    country: "DE".into(),
                })
            })
            .collect();
        run_all(app, Actor::System, shops).await?;
        for (seller, shopper, shop) in people {
            let conversation = ConversationId(uuid::Uuid::now_v7());
            let actor = Actor::Account {
                role: Role::Shopper,
                id: shopper,
            };
            let start = Command::Chat(ChatCommand::Start {
                id: conversation,
                shop,
            });
            app.execute(actor, start).await?;
            for (id, role) in [(shopper, Role::Shopper), (seller, Role::Seller)] {
                out.push((app.tokens.access_token(id, role, 0, "bench")?, conversation));
            }
        }
    }
    Ok(out)
}

async fn run_all(app: &api::AppState, actor: Actor, commands: Vec<Command>) -> anyhow::Result<()> {
    let results =
        futures::future::join_all(commands.into_iter().map(|c| app.execute(actor, c))).await;
    for result in results {
        result?;
    }
    Ok(())
}

struct SocketRun {
    latencies_ms: Vec<f64>,
    errors: u64,
}

/// Sends on schedule and reads everything; a message's text carries its send time (µs since
/// `epoch`), so the other side's receipt measures delivery.
#[allow(clippy::too_many_arguments)]
async fn socket_load(
    ws: Socket,
    conversation: ConversationId,
    n: usize,
    epoch: Instant,
    offset: Duration,
    interval: Duration,
    deadline: Instant,
    sent_total: Arc<std::sync::atomic::AtomicU64>,
) -> anyhow::Result<SocketRun> {
    let me = if n % 2 == 0 { "shopper" } else { "shop" };
    let (mut sink, mut stream) = ws.split();
    let sender = tokio::spawn(async move {
        let mut next = epoch + offset;
        let mut sent = 0u64;
        while next < deadline {
            tokio::time::sleep_until(next.into()).await;
            let micros = epoch.elapsed().as_micros();
            let frame = serde_json::json!({
                "type": "send",
                "conversation": conversation,
                "text": format!("t={micros}"),
            });
            if sink
                .send(Message::Text(frame.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
            sent += 1;
            next += interval;
        }
        sent_total.fetch_add(sent, std::sync::atomic::Ordering::Relaxed);
        sink
    });
    let mut run = SocketRun {
        latencies_ms: Vec::new(),
        errors: 0,
    };
    // Read until a quiet spell after the load ends: everything in flight has arrived by then.
    let drain = deadline + Duration::from_secs(5);
    loop {
        let wait = if Instant::now() < deadline {
            drain - Instant::now()
        } else {
            Duration::from_secs(2)
        };
        let frame = match tokio::time::timeout(wait, stream.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
            _ => break,
        };
        let received = epoch.elapsed().as_micros();
        let value: serde_json::Value = serde_json::from_str(&frame)?;
        match value["type"].as_str() {
            Some("message") if value["message"]["side"] != me => {
                let text = value["message"]["text"].as_str().unwrap_or_default();
                if let Some(micros) = text.strip_prefix("t=").and_then(|t| t.parse::<u128>().ok()) {
                    run.latencies_ms
                        .push(received.saturating_sub(micros) as f64 / 1000.0);
                }
            }
            Some("error") => run.errors += 1,
            _ => {}
        }
        if Instant::now() > drain {
            break;
        }
    }
    let mut sink = sender.await?;
    let _ = sink.close().await;
    Ok(run)
}
