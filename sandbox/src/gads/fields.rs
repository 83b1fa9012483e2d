//! GoogleAdsFieldService: `POST /v{N}/googleAdsFields:search` (a query language of its own:
//! `SELECT <attributes> [WHERE …] [ORDER BY …] [LIMIT n]`, no FROM) and
//! `GET /v{N}/googleAdsFields/{name}`, both answered from the same catalog the GAQL
//! validator uses, so what the metadata says is selectable is exactly what `search`
//! accepts.

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use super::catalog::{self, Category, DataType, FieldType, RESOURCES};
use super::error::AdsError;
use super::gaql;
use super::query::{Pred, Val, compile_cond};

/// Largest page of `googleAdsFields:search`.
pub const MAX_PAGE: usize = 10_000;

/// One GoogleAdsField entry.
#[derive(Debug, Clone)]
pub struct Entry {
    name: &'static str,
    category: Category,
    data_type: DataType,
    selectable: bool,
    filterable: bool,
    sortable: bool,
    selectable_with: Vec<&'static str>,
    attribute_resources: Vec<&'static str>,
    metrics: Vec<&'static str>,
    segments: Vec<&'static str>,
    enum_values: Vec<&'static str>,
    type_url: Option<String>,
    is_repeated: bool,
}

/// The attributes of a GoogleAdsField (snake_case in queries, camelCase in responses).
const ATTRS: &[(&str, DataType, bool, &[&str])] = &[
    ("name", DataType::String, false, &[]),
    (
        "category",
        DataType::Enum,
        false,
        &["RESOURCE", "ATTRIBUTE", "SEGMENT", "METRIC"],
    ),
    ("selectable", DataType::Bool, false, &[]),
    ("filterable", DataType::Bool, false, &[]),
    ("sortable", DataType::Bool, false, &[]),
    ("selectable_with", DataType::String, true, &[]),
    ("attribute_resources", DataType::String, true, &[]),
    ("metrics", DataType::String, true, &[]),
    ("segments", DataType::String, true, &[]),
    ("enum_values", DataType::String, true, &[]),
    (
        "data_type",
        DataType::Enum,
        false,
        &[
            "BOOLEAN",
            "DATE",
            "DOUBLE",
            "ENUM",
            "FLOAT",
            "INT32",
            "INT64",
            "MESSAGE",
            "RESOURCE_NAME",
            "STRING",
            "UINT64",
        ],
    ),
    ("type_url", DataType::String, false, &[]),
    ("is_repeated", DataType::Bool, false, &[]),
    ("resource_name", DataType::ResourceName, false, &[]),
];

fn attr_type(name: &str) -> Option<FieldType<'static>> {
    ATTRS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(n, dt, repeated, values)| FieldType {
            name: n,
            data_type: *dt,
            enum_values: values,
            repeated: *repeated,
        })
}

/// Every catalog entry: resources first, then their fields, metrics and segments.
pub fn entries(version: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for r in RESOURCES {
        let pascal: String = catalog::camel(&format!("_{}", r.name()));
        let attribute_resources: Vec<&'static str> = r
            .attributed()
            .iter()
            .filter(|a| *a != r)
            .map(|a| a.name())
            .collect();
        let metrics: Vec<&'static str> = catalog::FIELDS
            .iter()
            .filter(|f| f.category == Category::Metric && r.supports_metric(f.id))
            .map(|f| f.name)
            .collect();
        let segments: Vec<&'static str> = catalog::FIELDS
            .iter()
            .filter(|f| f.category == Category::Segment && r.supports_segment(f.id))
            .map(|f| f.name)
            .collect();
        // Google lists, for a resource, everything selectable with it in FROM: the
        // attributed resources, then segments, then metrics.
        let selectable_with = [&attribute_resources, &segments, &metrics]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        out.push(Entry {
            name: r.name(),
            category: Category::Resource,
            data_type: DataType::Message,
            selectable: false,
            filterable: false,
            sortable: false,
            selectable_with,
            attribute_resources,
            metrics,
            segments,
            enum_values: Vec::new(),
            type_url: Some(format!("google.ads.googleads.{version}.resources.{pascal}")),
            is_repeated: false,
        });
    }
    for f in catalog::FIELDS {
        out.push(Entry {
            name: f.name,
            category: f.category,
            data_type: f.data_type,
            selectable: true,
            filterable: f.filterable(),
            sortable: f.sortable(),
            selectable_with: catalog::selectable_with(f),
            attribute_resources: Vec::new(),
            metrics: Vec::new(),
            segments: Vec::new(),
            enum_values: f.enum_values.to_vec(),
            type_url: None,
            is_repeated: f.repeated,
        });
    }
    out
}

impl Entry {
    fn value(&self, attr: &str) -> Val {
        let list = |l: &[&str]| Val::List(l.iter().map(|s| s.to_string()).collect());
        match attr {
            "name" => Val::Str(self.name.to_string()),
            "resource_name" => Val::Str(format!("googleAdsFields/{}", self.name)),
            "category" => Val::Enum(self.category.as_str()),
            "data_type" => Val::Enum(self.data_type.as_str()),
            "selectable" => Val::Bool(self.selectable),
            "filterable" => Val::Bool(self.filterable),
            "sortable" => Val::Bool(self.sortable),
            "is_repeated" => Val::Bool(self.is_repeated),
            "selectable_with" => list(&self.selectable_with),
            "attribute_resources" => list(&self.attribute_resources),
            "metrics" => list(&self.metrics),
            "segments" => list(&self.segments),
            "enum_values" => list(&self.enum_values),
            "type_url" => self.type_url.clone().map(Val::Str).unwrap_or(Val::Null),
            _ => Val::Null,
        }
    }

    /// The entry as JSON with the given attributes (all when `attrs` is `None`).
    pub fn json(&self, attrs: Option<&[String]>) -> Value {
        let mut out = Map::new();
        out.insert(
            "resourceName".into(),
            json!(format!("googleAdsFields/{}", self.name)),
        );
        let all: Vec<String> = ATTRS
            .iter()
            .map(|(n, ..)| n.to_string())
            .filter(|n| n != "resource_name")
            .collect();
        for a in attrs.unwrap_or(&all) {
            let v = match self.value(a) {
                Val::Str(s) => json!(s),
                Val::Enum(s) => json!(s),
                Val::Bool(b) => json!(b),
                // Empty repeated fields are omitted, as in proto3 JSON.
                Val::List(l) if l.is_empty() => continue,
                Val::List(l) => json!(l),
                _ => continue,
            };
            out.insert(catalog::camel(a), v);
        }
        Value::Object(out)
    }
}

/// Looks one entry up by name (`GET googleAdsFields/{name}`).
pub fn get(name: &str, version: &str) -> Option<Entry> {
    entries(version).into_iter().find(|e| e.name == name)
}

/// Runs a GoogleAdsFieldService query; returns `(page, total, next offset)`.
pub fn search(
    query: &str,
    version: &str,
    offset: usize,
    page_size: usize,
) -> Result<(Vec<Value>, usize, Option<usize>), AdsError> {
    let raw =
        gaql::parse(query, false).map_err(|e| AdsError::query(e.code, e.message, e.trigger))?;
    let unknown = |name: &str| {
        AdsError::query(
            "UNRECOGNIZED_FIELD",
            format!("Unrecognized field in the query: '{name}'."),
            Some(name.to_string()),
        )
    };
    let mut select: Vec<String> = Vec::new();
    for (name, _) in &raw.select {
        attr_type(name).ok_or_else(|| unknown(name))?;
        if !select.contains(name) {
            select.push(name.clone());
        }
    }
    let mut conds: Vec<(String, Pred)> = Vec::new();
    // GoogleAdsField attributes have no dates, so DURING never resolves against a clock.
    let no_today = NaiveDate::default();
    for rc in &raw.conds {
        let ty = attr_type(&rc.field).ok_or_else(|| unknown(&rc.field))?;
        conds.push((rc.field.clone(), compile_cond(&ty, rc, no_today)?));
    }
    let mut order = Vec::new();
    for o in &raw.order {
        let ty = attr_type(&o.field).ok_or_else(|| unknown(&o.field))?;
        if ty.repeated {
            return Err(AdsError::query(
                "PROHIBITED_FIELD_IN_ORDER_BY_CLAUSE",
                format!(
                    "Error in ORDER BY clause: the field '{}' cannot be sorted on.",
                    o.field
                ),
                Some(o.field.clone()),
            ));
        }
        order.push((o.field.clone(), o.desc));
    }
    if !raw.params.is_empty() {
        return Err(AdsError::query(
            "BAD_PARAMETER_NAME",
            "Error in PARAMETERS clause: this service takes no parameters.",
            None,
        ));
    }
    let mut hits: Vec<Entry> = entries(version)
        .into_iter()
        .filter(|e| conds.iter().all(|(a, p)| p.test(&e.value(a))))
        .collect();
    if !order.is_empty() {
        hits.sort_by(|a, b| {
            for (attr, desc) in &order {
                let o = a.value(attr).sort_cmp(&b.value(attr));
                let o = if *desc { o.reverse() } else { o };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
    }
    let total = hits.len();
    if let Some(limit) = raw.limit {
        hits.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    let end = offset.saturating_add(page_size).min(hits.len());
    let page = hits
        .get(offset.min(end)..end)
        .unwrap_or(&[])
        .iter()
        .map(|e| e.json(Some(&select)))
        .collect();
    let next = (end < hits.len()).then_some(end);
    Ok((page, total, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_filter_on_names() {
        let (page, total, next) = search(
            "SELECT name, selectable, filterable, sortable WHERE name LIKE 'campaign.%'",
            "v26",
            0,
            MAX_PAGE,
        )
        .unwrap();
        assert_eq!(total, page.len());
        assert!(next.is_none());
        assert!(page.len() >= 8);
        let id = page
            .iter()
            .find(|v| v["name"] == "campaign.id")
            .expect("campaign.id listed");
        assert_eq!(id["resourceName"], "googleAdsFields/campaign.id");
        assert_eq!(id["selectable"], true);
        assert!(id.get("dataType").is_none(), "only selected attributes");
    }

    #[test]
    fn resources_list_their_metrics_and_segments() {
        let (page, ..) = search(
            "SELECT name, category, metrics, segments, attribute_resources WHERE category = RESOURCE AND name = 'keyword_view'",
            "v26",
            0,
            MAX_PAGE,
        )
        .unwrap();
        assert_eq!(page.len(), 1);
        let kv = &page[0];
        assert_eq!(kv["category"], "RESOURCE");
        assert!(
            kv["metrics"]
                .as_array()
                .unwrap()
                .contains(&json!("metrics.clicks"))
        );
        assert!(
            kv["attributeResources"]
                .as_array()
                .unwrap()
                .contains(&json!("ad_group_criterion"))
        );
        let (page, total, next) = search(
            "SELECT name, data_type ORDER BY name DESC LIMIT 3",
            "v26",
            0,
            2,
        )
        .unwrap();
        assert_eq!(page.len(), 2);
        assert!(total > 50);
        assert_eq!(next, Some(2));
        assert!(page[0]["name"].as_str() > page[1]["name"].as_str());
    }

    #[test]
    fn errors() {
        let code = |q: &str| search(q, "v26", 0, 10).unwrap_err().errors[0].code;
        assert_eq!(code("SELECT nme"), "UNRECOGNIZED_FIELD");
        assert_eq!(code("SELECT name FROM campaign"), "UNEXPECTED_FROM_CLAUSE");
        assert_eq!(
            code("SELECT name WHERE category = 'THING'"),
            "BAD_ENUM_CONSTANT"
        );
        assert_eq!(
            code("SELECT name ORDER BY metrics"),
            "PROHIBITED_FIELD_IN_ORDER_BY_CLAUSE"
        );
        assert!(get("metrics.clicks", "v26").is_some());
        assert!(get("metrics.klicks", "v26").is_none());
    }
}
