//! Running a test's body in a child process that the test can SIGKILL.

use std::process::{Child, Command, Stdio};

/// Starts this test binary again, running only the ignored test `test` (e.g. `kill::child`),
/// with `vars` set and its stdout piped back.
pub fn spawn(test: &str, vars: &[(&str, String)]) -> Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the child starts")
}

/// The runtime a child works in: both cores, as under load.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}
