//! `GET /v1beta/properties/{id}/metadata`: the dimensions and metrics this sandbox supports
//! (exactly the catalog), plus the property's custom definitions. Property `0` returns the
//! universal set only.

use serde_json::{Map, Value, json};

use super::catalog::{DIMENSIONS, METRICS, Scope};
use super::property::PropertyInfo;

/// Builds the Metadata resource.
pub fn metadata(property_id: &str, prop: Option<&PropertyInfo>) -> Value {
    let mut dimensions: Vec<Value> = DIMENSIONS
        .iter()
        .map(|d| {
            json!({
                "apiName": d.api,
                "uiName": d.ui,
                "description": d.desc,
                "category": d.category,
            })
        })
        .collect();
    let mut metrics: Vec<Value> = METRICS
        .iter()
        .filter(|m| m.scope != Scope::Conversions)
        .map(|m| {
            let mut o = Map::new();
            o.insert("apiName".into(), json!(m.api));
            o.insert("uiName".into(), json!(m.ui));
            o.insert("description".into(), json!(m.desc));
            o.insert("type".into(), json!(m.ty.as_str()));
            o.insert("category".into(), json!(m.category));
            if !m.deprecated.is_empty() {
                o.insert("deprecatedApiNames".into(), json!(m.deprecated));
            }
            Value::Object(o)
        })
        .collect();
    if let Some(prop) = prop {
        for d in &prop.custom_dimensions {
            let scope = d.scope.as_str().to_ascii_lowercase();
            dimensions.push(json!({
                "apiName": format!("{}:{}", d.scope.api_prefix(), d.parameter_name),
                "uiName": d.display_name,
                "description": d.description.clone().unwrap_or_else(|| format!("An {scope} scoped custom dimension for your Analytics property.")),
                "customDefinition": true,
                "category": "Custom",
            }));
        }
        for m in &prop.custom_metrics {
            metrics.push(json!({
                "apiName": format!("customEvent:{}", m.parameter_name),
                "uiName": m.display_name,
                "description": m.description.clone().unwrap_or_else(|| "An event scoped custom metric for your Analytics property.".to_string()),
                "type": m.measurement_unit.metric_type(),
                "customDefinition": true,
                "category": "Custom",
            }));
        }
    }
    json!({
        "name": format!("properties/{property_id}/metadata"),
        "dimensions": dimensions,
        "metrics": metrics,
    })
}
