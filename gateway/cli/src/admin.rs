//! `hysope admin token create|list|revoke --data-dir DIR`: personal access tokens,
//! for bootstrapping and scripts, without any identity provider. The store is
//! opened directly; when a running server holds it, the request goes to that
//! server as its local operator (`server.json`), as `hysope ingest` does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use hysope_identity::RedbTokenStore;
use hysope_identity::tokens::{self, NewToken, TokenStore};
use serde_json::{Value, json};

/// `hysope admin ...`.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Personal access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `hysope admin token ...`.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it, alone, on the last line of the output (it is
    /// shown once: the store keeps its hash only).
    Create {
        /// Whose token it is (letters, digits, `. _ - @`).
        #[arg(long)]
        user: String,
        /// user, developer or operator.
        #[arg(long)]
        role: String,
        /// Limit it to these actions (execute, jobs, deploy, catalog, ingest, tokens,
        /// metrics), comma-separated; all its role allows when absent.
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
        /// How long it works (`90d`, `12h`); forever when absent.
        #[arg(long)]
        expires: Option<String>,
        /// What it is for.
        #[arg(long)]
        note: Option<String>,
        /// The data folder `hysope serve` uses.
        #[arg(long, default_value = "hysope-data", env = "HYSOPE_DATA_DIR")]
        data_dir: PathBuf,
        /// The shared store of gateways started with `--store postgres://...`:
        /// their tokens are there, not in a data folder.
        #[arg(long = "store", env = "HYSOPE_STORE")]
        store_url: Option<String>,
    },
    /// List tokens (never their secrets), as JSON lines.
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        /// The data folder `hysope serve` uses.
        #[arg(long, default_value = "hysope-data", env = "HYSOPE_DATA_DIR")]
        data_dir: PathBuf,
        /// The shared store of gateways started with `--store postgres://...`:
        /// their tokens are there, not in a data folder.
        #[arg(long = "store", env = "HYSOPE_STORE")]
        store_url: Option<String>,
    },
    /// Revoke a token by its id: it stops working at once.
    Revoke {
        /// The token's id (from `list`).
        id: String,
        /// The data folder `hysope serve` uses.
        #[arg(long, default_value = "hysope-data", env = "HYSOPE_DATA_DIR")]
        data_dir: PathBuf,
        /// The shared store of gateways started with `--store postgres://...`:
        /// their tokens are there, not in a data folder.
        #[arg(long = "store", env = "HYSOPE_STORE")]
        store_url: Option<String>,
    },
}

/// `hysope admin`.
pub fn main(command: AdminCommand) -> ExitCode {
    let AdminCommand::Token(command) = command;
    match token(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crate::fail(&e, 1),
    }
}

/// The token store of `data_dir`, or why it cannot be opened here (a running
/// server holds it: `Err(Ok(reason))`).
fn open(
    data_dir: &Path,
    store_url: Option<&str>,
) -> anyhow::Result<Result<Arc<dyn TokenStore>, hysope_store::Error>> {
    if let Some(url) = store_url {
        // A shared store is opened by any number of processes at once.
        let pg = hysope_postgres::Pg::connect(url, 2)?;
        return Ok(Ok(Arc::new(hysope_postgres::PgTokenStore::open(pg)?)));
    }
    hysope_server::create_data_dir(data_dir)?;
    match hysope_server::open_store(data_dir) {
        Ok(db) => Ok(Ok(Arc::new(RedbTokenStore::open_shared(db)?))),
        Err(e) => match e.downcast::<hysope_store::Error>() {
            Ok(e @ hysope_store::Error::AlreadyOpen { .. }) => Ok(Err(e)),
            Ok(e) => Err(e.into()),
            Err(e) => Err(e),
        },
    }
}

fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            user,
            role,
            scopes,
            expires,
            note,
            data_dir,
            store_url,
        } => {
            let (secret, record) = match open(&data_dir, store_url.as_deref())? {
                Ok(store) => {
                    let new = NewToken::parse(
                        user,
                        &role,
                        scopes.as_deref(),
                        expires.as_deref(),
                        "--expires",
                        format!("hysope admin ({})", whoami()),
                        note,
                    )?;
                    let (secret, record) = tokens::issue(store.as_ref(), new)?;
                    (secret, record.public())
                }
                Err(held) => {
                    let server = crate::local::LocalServer::of(&data_dir, &held)?;
                    let mut body = json!({"user": user, "role": role});
                    if let Some(s) = scopes {
                        body["scopes"] = json!(s);
                    }
                    if let Some(e) = expires {
                        body["expires_in"] = json!(e);
                    }
                    if let Some(n) = note {
                        body["note"] = json!(n);
                    }
                    let reply = server.call("POST", "/admin/tokens", Some(&body))?;
                    let secret = reply["token"]
                        .as_str()
                        .context("the server's reply has no token")?
                        .to_string();
                    (secret, reply["record"].clone())
                }
            };
            eprintln!(
                "hysope: personal token {} for {} ({}){}; shown once, keep it secret:",
                record["id"].as_str().unwrap_or("?"),
                record["user"].as_str().unwrap_or("?"),
                record["role"].as_str().unwrap_or("?"),
                record["expires"]
                    .as_str()
                    .map(|e| format!(", expires {e}"))
                    .unwrap_or_default()
            );
            println!("{secret}");
        }
        TokenCommand::List {
            user,
            data_dir,
            store_url,
        } => {
            let records: Vec<Value> = match open(&data_dir, store_url.as_deref())? {
                Ok(store) => store
                    .list(user.as_deref())?
                    .iter()
                    .map(|r| r.public())
                    .collect(),
                Err(held) => {
                    let server = crate::local::LocalServer::of(&data_dir, &held)?;
                    let path = match &user {
                        Some(u) => format!(
                            "/admin/tokens?{}",
                            form_urlencoded::Serializer::new(String::new())
                                .append_pair("user", u)
                                .finish()
                        ),
                        None => "/admin/tokens".into(),
                    };
                    let reply = server.call("GET", &path, None)?;
                    reply["tokens"].as_array().cloned().unwrap_or_default()
                }
            };
            for record in records {
                println!("{record}");
            }
        }
        TokenCommand::Revoke {
            id,
            data_dir,
            store_url,
        } => {
            let record = match open(&data_dir, store_url.as_deref())? {
                Ok(store) => store.revoke(&id, hysope_identity::now_ms())?.public(),
                Err(held) => {
                    let server = crate::local::LocalServer::of(&data_dir, &held)?;
                    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                        anyhow::bail!("{id:?} is not a token id");
                    }
                    server.call("DELETE", &format!("/admin/tokens/{id}"), None)?
                }
            };
            eprintln!(
                "hysope: token {} of {} revoked",
                record["id"].as_str().unwrap_or("?"),
                record["user"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(())
}

/// The account running the command, for the record of who made a token.
fn whoami() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(64)
        .collect()
}
