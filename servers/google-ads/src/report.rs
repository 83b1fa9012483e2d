//! What the tools return: the structured outputs, whose schemas are the tools' output
//! schemas.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// Accessible customers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CustomersOutput {
    /// One per customer: id and, where readable, name, currency, time zone, manager flag.
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
    /// Rows, each an array in `columns` order; metric integers as numbers, money in micros.
    pub rows: Vec<Vec<Value>>,
    /// Rows the query yields in total, when Google reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_rows: Option<u64>,
    /// Pass as `page_token` with the same query for more rows; absent when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// Fields of a resource.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MetadataOutput {
    /// The resource.
    pub resource: String,
    /// Fields you can SELECT.
    pub selectable: Vec<String>,
    /// Fields you can use in WHERE.
    pub filterable: Vec<String>,
    /// Fields you can ORDER BY.
    pub sortable: Vec<String>,
    /// Metrics and segments that can be selected with this resource.
    pub selectable_with: Vec<String>,
}
