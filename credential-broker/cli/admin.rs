//! The commands that ask a running broker: leases, shop keys and gateway principals.

use std::io::Read as _;

use anyhow::{Context, Result, bail};
use broker_proto::LeaseSecret;
use broker_proto::client::BrokerClient;
use credential_broker::config::BrokerConfig;

use crate::args::{KeyCommand, LeaseCommand, PrincipalCommand};
use crate::views::fmt_time;

pub async fn principal(config: &BrokerConfig, action: PrincipalCommand) -> Result<()> {
    let mut client = BrokerClient::connect(&config.socket).await?;
    match action {
        PrincipalCommand::Add {
            issuer,
            subject,
            shop,
            ..
        } => {
            let changed = client.set_principal(&issuer, &subject, &shop, true).await?;
            println!(
                "{subject} of {issuer} {} shop {shop}",
                if changed {
                    "may now reach"
                } else {
                    "could already reach"
                }
            );
        }
        PrincipalCommand::Remove {
            issuer,
            subject,
            shop,
            ..
        } => {
            let changed = client
                .set_principal(&issuer, &subject, &shop, false)
                .await?;
            println!(
                "{subject} of {issuer} {} shop {shop}",
                if changed {
                    "may no longer reach"
                } else {
                    "could not reach"
                }
            );
        }
        PrincipalCommand::List { out, .. } => {
            let all = client.list_principals().await?;
            if out.json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for p in &all {
                    println!(
                        "{}  {}  {}  {}",
                        p.issuer,
                        p.subject,
                        p.shop_id,
                        fmt_time(p.created_at)
                    );
                }
                println!("{} principal(s)", all.len());
            }
        }
    }
    Ok(())
}

pub async fn key(config: &BrokerConfig, action: KeyCommand) -> Result<()> {
    let mut client = BrokerClient::connect(&config.socket).await?;
    match action {
        KeyCommand::Create {
            shop,
            providers,
            ttl,
            label,
            ..
        } => {
            let (info, key) = client
                .create_key(&shop, &providers, ttl.as_secs(), label.as_deref())
                .await?;
            println!(
                "key {} for shop {} ({}) until {} UTC",
                info.key_id,
                info.shop_id,
                info.providers
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                fmt_time(info.expires_at)
            );
            println!("{}", key.expose());
        }
        KeyCommand::List { shop, out, .. } => {
            let keys = client.list_keys(shop.as_deref()).await?;
            if out.json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                println!(
                    "{:<20} {:<36} {:<28} {:<19} {:<19} label",
                    "key", "shop", "sources", "created", "expires"
                );
                for k in &keys {
                    println!(
                        "{:<20} {:<36} {:<28} {:<19} {:<19} {}",
                        k.key_id,
                        k.shop_id,
                        k.providers
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                        fmt_time(k.created_at),
                        fmt_time(k.expires_at),
                        k.label.as_deref().unwrap_or("")
                    );
                }
                println!("{} live key(s)", keys.len());
            }
        }
        KeyCommand::Revoke { key_id, .. } => {
            client.revoke_key(&key_id).await?;
            println!("revoked {key_id}");
        }
    }
    Ok(())
}

pub async fn lease(config: &BrokerConfig, action: LeaseCommand) -> Result<()> {
    let mut client = BrokerClient::connect(&config.socket).await?;
    match action {
        LeaseCommand::Create {
            shop,
            providers,
            ttl,
            ..
        } => {
            let grant = client
                .create_lease(&shop, &providers, ttl.as_secs())
                .await?;
            println!(
                "lease {} for shop {} until {} UTC",
                grant.lease_id,
                grant.shop_id,
                fmt_time(grant.expires_at)
            );
            println!(
                "granted: {}",
                grant
                    .granted
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            for m in &grant.missing {
                println!(
                    "missing: {} ({})",
                    m.provider,
                    m.error.message.replace('\n', " ")
                );
            }
            println!("{}", grant.lease.expose());
        }
        LeaseCommand::Revoke {
            lease, secret_file, ..
        } => {
            let secret = match (lease.as_deref(), secret_file) {
                (Some(id), None) if id.starts_with("lease_") => {
                    let id = client.revoke_lease_id(id).await?;
                    println!("revoked {id}");
                    return Ok(());
                }
                (Some("-"), None) => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    s.trim().to_owned()
                }
                (None, Some(path)) => {
                    use secrecy::ExposeSecret;
                    secret_file_line(&path)?.expose_secret().to_owned()
                }
                _ => bail!(
                    "refusing a lease secret on the command line (every local user can read it in `ps`): \
                     pipe it to `credential-broker lease revoke -`, pass --secret-file FILE, or (admins) \
                     revoke by id: `credential-broker lease revoke lease_…`"
                ),
            };
            if secret.is_empty() {
                bail!("no lease secret given (stdin or the file was empty)");
            }
            let id = client.revoke_lease(&LeaseSecret::new(secret)).await?;
            println!("revoked {id}");
        }
        LeaseCommand::List { shop, out, .. } => {
            let leases = client.list_leases(shop.as_deref()).await?;
            if out.json {
                println!("{}", serde_json::to_string_pretty(&leases)?);
            } else {
                println!(
                    "{:<22} {:<36} {:<28} {:<14} {:<19} {:<19} last use",
                    "lease", "shop", "providers", "holder", "created", "expires"
                );
                for l in &leases {
                    let providers = l
                        .providers
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(",");
                    let holder = match l.holder_pid {
                        Some(pid) => format!("{}/{pid}", l.holder_uid),
                        None => l.holder_uid.to_string(),
                    };
                    println!(
                        "{:<22} {:<36} {:<28} {:<14} {:<19} {:<19} {}",
                        l.lease_id,
                        l.shop_id,
                        providers,
                        holder,
                        fmt_time(l.created_at),
                        fmt_time(l.expires_at),
                        l.last_used_at.map(fmt_time).unwrap_or_else(|| "-".into())
                    );
                }
                println!("{} live lease(s)", leases.len());
            }
        }
    }
    Ok(())
}

/// The first line of a secret file, refusing one that group or others can read.
fn secret_file_line(path: &std::path::Path) -> Result<secrecy::SecretString> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by group or others (mode {mode:04o}); it holds a secret, so run: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(secrecy::SecretString::from(
        text.lines().next().unwrap_or("").trim().to_owned(),
    ))
}
