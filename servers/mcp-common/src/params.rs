//! Tool parameters: the [`Parameters`] extractor every tool uses, and small types every server
//! has (ids that models send as numbers or strings).

use std::borrow::Cow;

use rmcp::ErrorData;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// A tool argument that cannot work: the text names it and says how to fix it. Tools show it
/// as their error text (the model reads it and corrects its call), never as a protocol error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadArgument(pub String);

/// A checked argument.
pub type Checked<T> = Result<T, BadArgument>;

/// An argument refused with `message`.
pub fn bad<T>(message: impl Into<String>) -> Checked<T> {
    Err(BadArgument(message.into()))
}

/// The text a tool shows for it (so `?` and [`crate::output::fail`] take it as it is).
impl From<BadArgument> for String {
    fn from(bad: BadArgument) -> String {
        bad.0
    }
}

/// Tool arguments deserialised into `T`. Like rmcp's own `Parameters` (the `#[tool]` macro
/// takes its input schema from `T` the same way), but a bad argument is reported with its path
/// — `date_ranges[0].start_date: missing field` — so the model knows what to fix.
#[derive(Debug, Clone)]
pub struct Parameters<T>(pub T);

impl<T: JsonSchema> JsonSchema for Parameters<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<S, T: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<T> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        parse(serde_json::Value::Object(arguments)).map(Parameters)
    }
}

/// Deserialises tool arguments, naming the offending path on error. The error is an
/// `invalid_params` that [`crate::Served`] turns into a tool error the model reads.
pub fn parse<T: DeserializeOwned>(arguments: serde_json::Value) -> Result<T, ErrorData> {
    serde_path_to_error::deserialize(arguments).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." || path.is_empty() {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        };
        ErrorData::invalid_params(message, None)
    })
}

/// A `contains` filter argument as the lower-cased text to look for; blank is no filter (a
/// strict-mode model sends every property).
pub fn needle(contains: Option<&str>) -> Option<String> {
    contains
        .map(|c| c.trim().to_lowercase())
        .filter(|c| !c.is_empty())
}

/// An account/property id a model may send as `123`, `"123"` or a resource name
/// (`"properties/123"`); kept as the string it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FlexibleId(pub String);

impl<'de> Deserialize<'de> for FlexibleId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected an id as a number or a string"))?
        {
            Raw::Number(n) => Ok(Self(n.to_string())),
            Raw::Text(s) => Ok(Self(s.trim().to_owned())),
        }
    }
}

impl JsonSchema for FlexibleId {
    fn schema_name() -> Cow<'static, str> {
        "FlexibleId".into()
    }

    /// Published as a string (what the ids are upstream); a number is still accepted.
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }

    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Args {
        ranges: Vec<Range>,
    }

    #[derive(Debug, Deserialize)]
    struct Range {
        start: String,
    }

    #[test]
    fn argument_errors_name_the_path() {
        let good = parse::<Args>(serde_json::json!({"ranges": [{"start": "a"}]})).expect("valid");
        assert_eq!(good.ranges[0].start, "a");
        let e = parse::<Args>(serde_json::json!({"ranges": [{"start": "a"}, {}]}))
            .expect_err("invalid");
        assert_eq!(e.message, "ranges[1]: missing field `start`");
        let e = parse::<Args>(serde_json::json!({"ranges": 5})).expect_err("invalid");
        assert!(
            e.message.starts_with("ranges: invalid type: integer `5`"),
            "{}",
            e.message
        );
        let e = parse::<Args>(serde_json::json!({})).expect_err("invalid");
        assert_eq!(e.message, "missing field `ranges`");
    }

    #[test]
    fn accepts_numbers_and_strings() {
        let a: FlexibleId = serde_json::from_str("123").expect("number");
        let b: FlexibleId = serde_json::from_str("\" properties/123 \"").expect("string");
        assert_eq!(a.0, "123");
        assert_eq!(b.0, "properties/123");
        assert!(serde_json::from_str::<FlexibleId>("[1]").is_err());
    }
}
