//! The JSON Schemas a server publishes in `tools/list`: schemars' output rewritten into the
//! plain subset every agent framework's converter reads (the OpenAI Agents SDK's strict mode,
//! google-genai's `Schema` and its MCP adapter, pydantic-ai's OpenAI and Gemini transformers,
//! LangChain's `convert_to_openai_tool`; `tests/python/frameworks.py` runs them all), and
//! without what a model never needs (issues 15 and 17).
//!
//! What changes, and why each change accepts the same arguments the server does:
//! - `$ref`s are inlined and `$defs` dropped: google-genai refuses both, the Agents SDK refuses
//!   a `$ref` beside a description, LangChain cuts recursive ones to `{}`. A recursive type
//!   cannot be inlined; it is left as a `$ref`, and each server's golden test refuses it.
//! - A type list (`["string", "null"]`) becomes an `anyOf` of single types: google-genai's
//!   converters crash on lists. `null` stays allowed, so a strict-mode model (which must send
//!   every property) can still leave an optional one out.
//! - `oneOf` of `const`s becomes an `enum`: google-genai's MCP adapter drops `const` values.
//!   What the values mean (their variants' docs) is appended to the description of the
//!   property that takes them, once: `` `final`: settled data; `all`: … ``.
//! - `additionalProperties` goes: google-genai's MCP adapter crashes on `false`, the strict
//!   converters add it themselves, and the servers refuse unknown arguments with a message
//!   naming them.
//! - Dropped as noise: `$schema`, `title`, `default` (descriptions say what matters), formats
//!   no model or strict mode uses (`uint32`, `double`, …), `minimum: 0` (schemars' mark of an
//!   unsigned integer), `items: true` in outputs.
//! - A branch of an `anyOf`, or an enum's item schema, loses its description when the property has
//!   one: the same words twice cost tokens and say nothing new. The line breaks of wrapped doc
//!   comments become spaces.
//!
//! Output schemas ([`publish_output`]) also lose the `null` branch of an optional property and
//! `minimum`: a server leaves an absent value out rather than sending null (every optional
//! output field skips serialising `None`), and no output needs a bound checked.

use serde_json::{Map, Value};

/// String formats OpenAI's strict mode accepts; the numeric formats schemars writes for Rust
/// integer and float types are dropped.
const KEPT_FORMATS: &[&str] = &[
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];

/// Where an enum's value meanings wait, while rewriting, for the property they end up in.
const MEANINGS: &str = "x-meanings";

/// `schema` as a server publishes it (see the module documentation).
pub fn publish(schema: &Map<String, Value>) -> Map<String, Value> {
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut root = Value::Object(schema.clone());
    rewrite(&mut root, &defs, &mut Vec::new());
    match root {
        Value::Object(mut map) => {
            settle_meanings(&mut map);
            // A root that could not be inlined completely still needs its definitions.
            if has_ref(&Value::Object(map.clone())) && !defs.is_empty() {
                map.insert("$defs".into(), Value::Object(defs));
            }
            map
        }
        _ => Map::new(),
    }
}

/// An output schema as a server publishes it: [`publish`], then optional properties without
/// their `null` branch and no `minimum` (see the module documentation).
pub fn publish_output(schema: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Value::Object(publish(schema));
    drop_output_noise(&mut out);
    match out {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn drop_output_noise(node: &mut Value) {
    match node {
        Value::Object(map) => {
            map.remove("minimum");
            let required: Vec<String> = map
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                for (name, property) in properties.iter_mut() {
                    if !required.contains(name) {
                        drop_null_branch(property);
                    }
                }
            }
            for child in map.values_mut() {
                drop_output_noise(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_output_noise),
        _ => {}
    }
}

/// `{"anyOf": [X, {"type": "null"}], "description": D}` → X with D.
fn drop_null_branch(property: &mut Value) {
    let Some(map) = property.as_object_mut() else {
        return;
    };
    let Some(Value::Array(branches)) = map.get("anyOf") else {
        return;
    };
    let kept: Vec<&Value> = branches
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
        .collect();
    if kept.len() != 1 || kept.len() == branches.len() {
        return;
    }
    let Some(Value::Object(only)) = kept.first().map(|v| (*v).clone()) else {
        return;
    };
    map.remove("anyOf");
    for (key, value) in only {
        map.entry(key).or_insert(value);
    }
}

/// Whether a published schema still has a `$ref` (a recursive type).
pub fn has_ref(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => map.contains_key("$ref") || map.values().any(has_ref),
        Value::Array(items) => items.iter().any(has_ref),
        _ => false,
    }
}

/// Paths of arrays whose items have no type (strict modes refuse them), e.g. `segments`.
pub fn untyped_arrays(schema: &Value) -> Vec<String> {
    fn walk(v: &Value, path: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                let is_array = map.get("type").and_then(Value::as_str) == Some("array");
                let typed = map.get("items").is_some_and(|items| {
                    items.as_object().is_some_and(|i| {
                        ["type", "anyOf", "enum", "$ref"]
                            .iter()
                            .any(|k| i.contains_key(*k))
                    })
                });
                if is_array && !typed {
                    out.push(path.to_owned());
                }
                for (key, value) in map {
                    walk(value, &format!("{path}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(schema, "", &mut out);
    out
}

fn rewrite(node: &mut Value, defs: &Map<String, Value>, inlining: &mut Vec<String>) {
    let Value::Object(map) = node else {
        return;
    };
    if let Some(name) = map
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .map(str::to_owned)
        && !inlining.contains(&name)
        && let Some(Value::Object(target)) = defs.get(&name)
    {
        map.remove("$ref");
        let mut inlined = target.clone();
        // The use site's own words (its description) win over the type's.
        inlined.extend(std::mem::take(map));
        *map = inlined;
        inlining.push(name);
        rewrite(node, defs, inlining);
        inlining.pop();
        return;
    }

    for noise in ["$schema", "$defs", "title", "default"] {
        map.remove(noise);
    }
    if let Some(Value::String(description)) = map.get_mut("description")
        && description.contains('\n')
    {
        *description = description.replace('\n', " ");
    }
    if map
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| !KEPT_FORMATS.contains(&f))
    {
        map.remove("format");
    }
    // schemars' mark of an unsigned integer: a negative count is refused by the server with a
    // message anyway, and no model sends one.
    if map.get("minimum").and_then(Value::as_u64) == Some(0) && map.get("type").is_some() {
        map.remove("minimum");
    }
    if map
        .get("additionalProperties")
        .is_some_and(Value::is_boolean)
    {
        map.remove("additionalProperties");
    }
    if map.get("items") == Some(&Value::Bool(true)) {
        map.remove("items");
    }

    if let Some(Value::Object(children)) = map.get_mut("properties") {
        for child in children.values_mut() {
            rewrite(child, defs, inlining);
            if let Value::Object(child) = child {
                settle_meanings(child);
            }
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = map.get_mut(key) {
            rewrite(child, defs, inlining);
        }
    }
    hoist_meanings(map, "items");

    split_type_list(map);
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(branches)) = map.get_mut(key) {
            for branch in branches.iter_mut() {
                rewrite(branch, defs, inlining);
            }
        }
    }
    fold_consts(map);
    hoist_meanings(map, "anyOf");
    if map.contains_key("description") {
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = map.get_mut(key) {
                for branch in branches.iter_mut().filter_map(Value::as_object_mut) {
                    branch.remove("description");
                }
            }
        }
        // An enum's own description is a label ("Dimensions to group by."); the property's says it.
        if let Some(Value::Object(items)) = map.get_mut("items")
            && items.contains_key("enum")
        {
            items.remove("description");
        }
    }
}

/// `{"type": ["string", "null"], …}` → `{"anyOf": [{"type": "string", …}, {"type": "null"}]}`;
/// everything but the description goes with the non-null types.
fn split_type_list(map: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = map.get("type") else {
        return;
    };
    let types: Vec<String> = types
        .iter()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    map.remove("type");
    let description = map.remove("description");
    let rest = std::mem::take(map);
    let branches = types
        .into_iter()
        .map(|t| {
            let mut branch = Map::new();
            branch.insert("type".into(), Value::String(t.clone()));
            if t != "null" {
                branch.extend(rest.clone());
            }
            Value::Object(branch)
        })
        .collect();
    if let Some(d) = description {
        map.insert("description".into(), d);
    }
    map.insert("anyOf".into(), Value::Array(branches));
}

/// Moves value meanings found in `key` (an item schema or `anyOf` branches) up to `map`.
fn hoist_meanings(map: &mut Map<String, Value>, key: &str) {
    let found: Vec<Value> = match map.get_mut(key) {
        Some(Value::Object(child)) => child.remove(MEANINGS).into_iter().collect(),
        Some(Value::Array(branches)) => branches
            .iter_mut()
            .filter_map(|b| b.as_object_mut()?.remove(MEANINGS))
            .collect(),
        _ => Vec::new(),
    };
    for meanings in found {
        map.insert(MEANINGS.into(), meanings);
    }
}

/// Appends waiting value meanings to the description of the property they belong to.
fn settle_meanings(map: &mut Map<String, Value>) {
    let Some(Value::String(meanings)) = map.remove(MEANINGS) else {
        return;
    };
    let description = match map.get("description").and_then(Value::as_str) {
        Some(d) => format!("{} {meanings}", d.trim_end()),
        None => meanings,
    };
    map.insert("description".into(), Value::String(description));
}

/// `{"oneOf": [{"const": "A", …}, {"const": "B", …}]}` → `{"type": "string", "enum": ["A", "B"]}`,
/// the values' descriptions kept as meanings for the property's description.
fn fold_consts(map: &mut Map<String, Value>) {
    let Some(Value::Array(branches)) = map.get("oneOf") else {
        return;
    };
    // schemars writes documented variants as `const` branches and gathers the others into
    // one `enum` branch.
    let values: Option<Vec<Vec<Value>>> = branches
        .iter()
        .map(|b| match (b.get("const"), b.get("enum")) {
            (Some(Value::String(s)), None) => Some(vec![Value::String(s.clone())]),
            (None, Some(Value::Array(values))) if values.iter().all(Value::is_string) => {
                Some(values.clone())
            }
            _ => None,
        })
        .collect();
    let Some(values) = values.map(|v| v.concat()).filter(|v| !v.is_empty()) else {
        return;
    };
    let meanings: Vec<String> = branches
        .iter()
        .filter_map(|b| {
            let value = b.get("const")?.as_str()?;
            let meaning = b.get("description")?.as_str()?.trim().trim_end_matches('.');
            Some(format!("`{value}`: {meaning}"))
        })
        .collect();
    map.remove("oneOf");
    map.insert("type".into(), Value::String("string".into()));
    map.insert("enum".into(), Value::Array(values));
    if !meanings.is_empty() {
        map.insert(
            MEANINGS.into(),
            Value::String(format!("{}.", meanings.join("; "))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn published(v: Value) -> Value {
        Value::Object(publish(v.as_object().expect("object")))
    }

    #[test]
    fn inlines_definitions_and_keeps_the_use_site_description() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "range": {"$ref": "#/$defs/Range", "description": "The range."},
                "maybe": {"anyOf": [{"$ref": "#/$defs/Range"}, {"type": "null"}], "description": "Optional.", "default": null}
            },
            "required": ["range"],
            "$defs": {"Range": {"type": "object", "description": "A range.", "additionalProperties": false,
                "properties": {"start": {"type": "string"}}, "required": ["start"]}}
        });
        assert_eq!(
            published(schema),
            json!({
                "type": "object",
                "properties": {
                    "range": {"type": "object", "description": "The range.", "properties": {"start": {"type": "string"}}, "required": ["start"]},
                    "maybe": {"anyOf": [{"type": "object", "properties": {"start": {"type": "string"}}, "required": ["start"]}, {"type": "null"}], "description": "Optional."}
                },
                "required": ["range"]
            })
        );
    }

    #[test]
    fn splits_type_lists_and_folds_consts() {
        let schema = json!({
            "type": "object",
            "properties": {
                "limit": {"type": ["integer", "null"], "format": "uint32", "minimum": 0, "description": "Rows."},
                "id": {"type": ["string", "integer"]},
                "order": {"oneOf": [{"const": "ASC", "type": "string", "description": "Up."}, {"const": "DESC", "type": "string"}]},
                "mixed": {"oneOf": [{"enum": ["A", "B"], "type": "string"}, {"const": "C", "type": "string", "description": "See."}]},
                "maybe": {"anyOf": [{"$ref": "#/$defs/Dir"}, {"type": "null"}], "description": "Sort."},
                "many": {"type": "array", "items": {"$ref": "#/$defs/Dir"}, "description": "Sorts."}
            },
            "$defs": {
                "Dir": {"description": "A direction.", "oneOf": [{"const": "ASC", "type": "string", "description": "Up."}, {"const": "DESC", "type": "string", "description": "Down."}]}
            }
        });
        assert_eq!(
            published(schema),
            json!({
                "type": "object",
                "properties": {
                    "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "Rows."},
                    "id": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    "order": {"type": "string", "enum": ["ASC", "DESC"], "description": "`ASC`: Up."},
                    "mixed": {"type": "string", "enum": ["A", "B", "C"], "description": "`C`: See."},
                    "maybe": {"anyOf": [{"type": "string", "enum": ["ASC", "DESC"]}, {"type": "null"}], "description": "Sort. `ASC`: Up; `DESC`: Down."},
                    "many": {"type": "array", "items": {"type": "string", "enum": ["ASC", "DESC"]}, "description": "Sorts. `ASC`: Up; `DESC`: Down."}
                }
            })
        );
    }

    #[test]
    fn outputs_lose_null_branches_of_optional_fields_and_bounds() {
        let schema = json!({
            "type": "object",
            "properties": {
                "next": {"type": ["integer", "null"], "format": "uint64", "minimum": 0, "description": "Next\npage."},
                "count": {"type": "integer", "minimum": 0},
                "always": {"type": ["string", "null"]}
            },
            "required": ["count", "always"]
        });
        assert_eq!(
            Value::Object(publish_output(schema.as_object().expect("object"))),
            json!({
                "type": "object",
                "properties": {
                    "next": {"type": "integer", "description": "Next page."},
                    "count": {"type": "integer"},
                    "always": {"anyOf": [{"type": "string"}, {"type": "null"}]}
                },
                "required": ["count", "always"]
            })
        );
    }

    #[test]
    fn recursion_is_left_as_a_reference_and_found() {
        let schema = json!({
            "type": "object",
            "properties": {"node": {"$ref": "#/$defs/Node"}},
            "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}}
        });
        let out = published(schema);
        assert!(has_ref(&out));
        assert!(out.get("$defs").is_some(), "the reference still resolves");
        assert_eq!(
            out["properties"]["node"]["properties"]["next"]["$ref"],
            "#/$defs/Node"
        );
    }

    #[test]
    fn finds_untyped_arrays() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "array", "items": {"type": "string"}},
            "b": {"type": "array", "items": true},
            "c": {"type": "array"}
        }});
        assert_eq!(
            untyped_arrays(&schema),
            vec!["/properties/b", "/properties/c"]
        );
    }
}
