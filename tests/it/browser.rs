//! The portals in a real browser: `tests/browser/journeys.mjs` drives headless Chromium
//! (playwright-core) through sign-up with the code from the outbox, the 6-box code entry, a
//! seller's onboarding, separate sign-ins, a ban and sign-out, against a marketplace served on
//! a real socket. Runs when Node, `tests/browser/node_modules` and Chromium are installed
//! (CI installs them); `MARKETPLACE_REQUIRE_SERVERS` makes their absence a failure.

use crate::support::{PASSWORD, TestApp};
use std::path::Path;
use std::process::Command;

fn missing(what: &str) -> bool {
    if std::env::var_os("MARKETPLACE_REQUIRE_SERVERS").is_some() {
        panic!("{what} is required (MARKETPLACE_REQUIRE_SERVERS is set) but is missing");
    }
    eprintln!("SKIPPED: {what} is missing; CI installs it and runs the browser journeys");
    true
}

#[tokio::test]
async fn people_sign_up_verify_sign_in_and_get_banned_in_a_real_browser() {
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if Command::new("node").arg("--version").output().is_err() && missing("node") {
        return;
    }
    if !scripts.join("node_modules/playwright-core").exists()
        && missing("tests/browser/node_modules (npm ci --prefix tests/browser)")
    {
        return;
    }
    if !Path::new(&chromium).exists() && missing("Chromium (apt install chromium)") {
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    api::auth::flows::create_account(
        &t.app,
        domain::Actor::System,
        "Root Admin",
        "root@example.com",
        domain::Role::Admin,
        PASSWORD,
    )
    .await
    .unwrap();
    let served = t.serve().await;
    let addr = served.addr;

    let shots = std::env::var("MARKETPLACE_SCREENSHOTS").unwrap_or_default();
    let journeys = scripts.join("journeys.mjs");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(journeys)
            .args([
                format!("http://{addr}"),
                "root@example.com".into(),
                PASSWORD.into(),
                shots,
            ])
            .env("CHROMIUM", &chromium)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    drop(served);
    t.app.shutdown().await;
    assert!(
        output.status.success(),
        "the browser journeys failed:\n{stdout}\n{stderr}"
    );
}
