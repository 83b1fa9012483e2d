//! `seed`: shops and integrations from a TOML file, for demos, tests and first set-ups.

use anyhow::{Context, Result};
use broker_proto::Provider;
use credential_broker::config::BrokerConfig;
use credential_broker::store::Store;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    shops: Vec<SeedShop>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedShop {
    id: String,
    name: String,
    #[serde(default)]
    integrations: Vec<SeedIntegration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedIntegration {
    provider: Provider,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    deleted: bool,
    data: toml::Table,
}

fn yes() -> bool {
    true
}

/// Loads a seed file into the store (shops upserted, integrations added).
pub async fn seed(
    store: &Store,
    config: &BrokerConfig,
    file: &std::path::Path,
) -> Result<(usize, usize)> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let parsed: SeedFile =
        toml::from_str(&text).with_context(|| format!("seed file {}", file.display()))?;
    let mut integrations = 0;
    for shop in &parsed.shops {
        store.upsert_shop(&shop.id, &shop.name).await?;
        for i in &shop.integrations {
            let data = serde_json::to_value(&i.data)?;
            store
                .insert_integration(
                    &shop.id,
                    config.type_code(i.provider),
                    &data,
                    i.active,
                    i.deleted,
                )
                .await?;
            integrations += 1;
        }
    }
    Ok((parsed.shops.len(), integrations))
}
