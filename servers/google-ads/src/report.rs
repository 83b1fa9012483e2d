//! What the tools return: the structured outputs, whose schemas are the tools' output
//! schemas.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// Accessible customers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CustomersOutput {
    /// Each customer's fields by GAQL name.
    pub customers: Vec<Value>,
}

/// A slice of query results.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchOutput {
    /// The customer queried.
    pub customer_id: String,
    /// The GAQL that ran.
    pub query: String,
    /// Selected fields in GAQL names, in order.
    pub columns: Vec<String>,
    /// Rows as arrays in `columns` order; money in micros.
    pub rows: Vec<Vec<Value>>,
    /// Rows in total, when Google says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_rows: Option<u64>,
    /// `page_token` for more rows of the same query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// Fields of a resource.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MetadataOutput {
    /// The resource.
    pub resource: String,
    /// SELECT-able fields.
    pub selectable: Vec<String>,
    /// WHERE-able fields.
    pub filterable: Vec<String>,
    /// ORDER BY-able fields.
    pub sortable: Vec<String>,
    /// Metrics and segments selectable with it.
    pub selectable_with: Vec<String>,
}
