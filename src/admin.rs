//! `marketplace admin create`: the only way to open an admin account from nothing (sign-up never
//! does; an admin can also promote an existing account).

use anyhow::Context as _;
use std::io::{BufRead, IsTerminal, Write};

#[derive(clap::Subcommand)]
pub enum AdminCmd {
    /// Create an admin account. The password is asked for on a terminal, or read from the first
    /// line of stdin (`echo "$PASSWORD" | marketplace admin create …`).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password for the new admin: ")?;
        let again = rpassword::prompt_password("Once more: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn run(command: AdminCmd, app: &api::AppState) -> anyhow::Result<()> {
    match command {
        AdminCmd::Create { email, name } => {
            let password = read_password()?;
            let account = api::auth::flows::create_account(
                app,
                domain::Actor::System,
                &name,
                &email,
                domain::Role::Admin,
                &password,
            )
            .await
            .context("creating the admin")?;
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "Admin {} <{}> created ({}).",
                account.name, account.email, account.id
            )?;
            Ok(())
        }
    }
}
