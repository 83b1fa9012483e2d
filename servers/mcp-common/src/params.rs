//! Small helpers for tool parameters that every server has: ids that models send as numbers or
//! strings.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

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
        match Raw::deserialize(d).map_err(|_| serde::de::Error::custom("expected an id as a number or a string"))? {
            Raw::Number(n) => Ok(Self(n.to_string())),
            Raw::Text(s) => Ok(Self(s.trim().to_owned())),
        }
    }
}

impl JsonSchema for FlexibleId {
    fn schema_name() -> Cow<'static, str> {
        "FlexibleId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": ["string", "integer"] })
    }

    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_numbers_and_strings() {
        let a: FlexibleId = serde_json::from_str("123").expect("number");
        let b: FlexibleId = serde_json::from_str("\" properties/123 \"").expect("string");
        assert_eq!(a.0, "123");
        assert_eq!(b.0, "properties/123");
        assert!(serde_json::from_str::<FlexibleId>("[1]").is_err());
    }
}
