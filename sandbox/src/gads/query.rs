//! Semantic checks of a parsed GAQL query against the catalog, producing a [`Query`]:
//! resolved fields, typed predicates (LIKE patterns and regular expressions compiled once),
//! and the date range the query covers. Every rule violation maps to Google's `QueryError`
//! code with a message naming the offending field.
//!
//! Predicates ([`Pred`]) work on [`Val`]s and are shared with the GoogleAdsFieldService
//! dialect (see `fields`).

use std::cmp::Ordering;

use chrono::{Datelike, NaiveDate};
use regex_automata::meta::Regex;

use super::catalog::{self, Category, DataType, F, FieldDef, FieldType, Res};
use super::dates;
use super::error::AdsError;
use super::gaql::{Lit, Op, RawCond, RawQuery, Rhs};

/// Earliest date a filter may name (older ranges are clipped to the data anyway).
const MIN_DATE: (i32, u32, u32) = (2000, 1, 1);
/// Latest date a filter may name.
const MAX_DATE: (i32, u32, u32) = (2037, 12, 31);
/// Largest compiled regular expression (bytes of NFA), to bound memory and time.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A typed value (a field's value in a row, or a literal in a condition).
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Not set.
    Null,
    /// Integer.
    I64(i64),
    /// Double.
    F64(f64),
    /// String or resource name.
    Str(String),
    /// Enum constant.
    Enum(&'static str),
    /// Boolean.
    Bool(bool),
    /// Date.
    Date(NaiveDate),
    /// Repeated string.
    List(Vec<String>),
}

impl Val {
    fn as_text(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            Val::Enum(s) => Some(s),
            _ => None,
        }
    }

    /// Orders two values of compatible types (`None` when incomparable or null).
    pub fn cmp_val(&self, other: &Val) -> Option<Ordering> {
        match (self, other) {
            (Val::I64(a), Val::I64(b)) => Some(a.cmp(b)),
            (Val::I64(a), Val::F64(b)) => (*a as f64).partial_cmp(b),
            (Val::F64(a), Val::I64(b)) => a.partial_cmp(&(*b as f64)),
            (Val::F64(a), Val::F64(b)) => a.partial_cmp(b),
            (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
            (Val::Date(a), Val::Date(b)) => Some(a.cmp(b)),
            _ => match (self.as_text(), other.as_text()) {
                (Some(a), Some(b)) => Some(a.cmp(b)),
                _ => None,
            },
        }
    }

    /// Sort order for ORDER BY: nulls first, then by value.
    pub fn sort_cmp(&self, other: &Val) -> Ordering {
        match (self, other) {
            (Val::Null, Val::Null) => Ordering::Equal,
            (Val::Null, _) => Ordering::Less,
            (_, Val::Null) => Ordering::Greater,
            _ => self.cmp_val(other).unwrap_or(Ordering::Equal),
        }
    }
}

/// A compiled LIKE pattern: `%` any run, `_` one character, `[x]` a literal `x`.
#[derive(Debug, Clone, PartialEq)]
enum LikeTok {
    Any,
    One,
    Char(char),
}

fn compile_like(pattern: &str) -> Option<Vec<LikeTok>> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                if out.last() != Some(&LikeTok::Any) {
                    out.push(LikeTok::Any);
                }
            }
            '_' => out.push(LikeTok::One),
            '[' => {
                let lit = chars.next()?;
                if chars.next()? != ']' {
                    return None;
                }
                out.push(LikeTok::Char(lit));
            }
            c => out.push(LikeTok::Char(c)),
        }
    }
    Some(out)
}

/// Wildcard matching with single-star backtracking: O(len(text) × len(pattern)) at worst,
/// never exponential.
fn like_match(pattern: &[LikeTok], text: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let (mut p, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while s < t.len() {
        match pattern.get(p) {
            Some(LikeTok::One) => {
                p += 1;
                s += 1;
            }
            Some(LikeTok::Char(c)) if *c == t[s] => {
                p += 1;
                s += 1;
            }
            Some(LikeTok::Any) => {
                star = Some((p, s));
                p += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    p = sp + 1;
                    s = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|x| *x == LikeTok::Any)
}

/// A compiled predicate.
#[derive(Debug, Clone)]
pub struct Pred {
    op: Op,
    values: Vec<Val>,
    like: Option<Vec<LikeTok>>,
    regex: Option<Box<Regex>>,
}

impl Pred {
    /// Whether `v` satisfies the predicate.
    pub fn test(&self, v: &Val) -> bool {
        let eq = |a: &Val, b: &Val| a.cmp_val(b) == Some(Ordering::Equal);
        let first = self.values.first();
        match self.op {
            Op::IsNull => matches!(v, Val::Null) || matches!(v, Val::List(l) if l.is_empty()),
            Op::IsNotNull => !matches!(v, Val::Null) && !matches!(v, Val::List(l) if l.is_empty()),
            _ if matches!(v, Val::Null) => false,
            Op::Eq => first.is_some_and(|b| eq(v, b)),
            Op::Ne => first.is_some_and(|b| v.cmp_val(b).is_some_and(|o| o != Ordering::Equal)),
            Op::Gt => first.is_some_and(|b| v.cmp_val(b) == Some(Ordering::Greater)),
            Op::Ge => first
                .is_some_and(|b| matches!(v.cmp_val(b), Some(Ordering::Greater | Ordering::Equal))),
            Op::Lt => first.is_some_and(|b| v.cmp_val(b) == Some(Ordering::Less)),
            Op::Le => first
                .is_some_and(|b| matches!(v.cmp_val(b), Some(Ordering::Less | Ordering::Equal))),
            Op::In => self.values.iter().any(|b| eq(v, b)),
            Op::NotIn => !self.values.iter().any(|b| eq(v, b)),
            Op::Between | Op::During => match (self.values.first(), self.values.get(1)) {
                (Some(a), Some(b)) => {
                    matches!(v.cmp_val(a), Some(Ordering::Greater | Ordering::Equal))
                        && matches!(v.cmp_val(b), Some(Ordering::Less | Ordering::Equal))
                }
                _ => false,
            },
            Op::Like | Op::NotLike => {
                let hit = match (&self.like, v.as_text()) {
                    (Some(p), Some(t)) => like_match(p, t),
                    _ => false,
                };
                hit == (self.op == Op::Like)
            }
            Op::Regexp | Op::NotRegexp => {
                let hit = match (&self.regex, v.as_text()) {
                    (Some(re), Some(t)) => re.is_match(t),
                    _ => false,
                };
                hit == (self.op == Op::Regexp)
            }
            Op::ContainsAny | Op::ContainsAll | Op::ContainsNone => {
                let Val::List(items) = v else { return false };
                let has = |b: &Val| b.as_text().is_some_and(|b| items.iter().any(|i| i == b));
                match self.op {
                    Op::ContainsAny => self.values.iter().any(has),
                    Op::ContainsAll => self.values.iter().all(has),
                    _ => !self.values.iter().any(has),
                }
            }
        }
    }
}

/// A condition on a catalog field.
#[derive(Debug, Clone)]
pub struct Cond {
    /// The field.
    pub field: F,
    /// The predicate.
    pub pred: Pred,
}

/// A validated GAQL query.
#[derive(Debug, Clone)]
pub struct Query {
    /// FROM resource.
    pub from: Res,
    /// Selected fields (duplicates removed, order kept).
    pub select: Vec<&'static FieldDef>,
    /// WHERE conditions.
    pub conds: Vec<Cond>,
    /// ORDER BY (field, descending).
    pub order: Vec<(&'static FieldDef, bool)>,
    /// LIMIT.
    pub limit: Option<u64>,
    /// `PARAMETERS omit_unselected_resource_names = true`.
    pub omit_unselected_resource_names: bool,
    /// Inclusive date bounds implied by date-segment conditions (either may be open).
    pub date_bounds: (Option<NaiveDate>, Option<NaiveDate>),
}

impl Query {
    /// Whether a field is selected.
    pub fn selects(&self, f: F) -> bool {
        self.select.iter().any(|d| d.id == f)
    }

    /// Whether any selected, filtered or sorted field is a metric.
    pub fn uses_metrics(&self) -> bool {
        self.fields_used().any(|d| d.category == Category::Metric)
    }

    /// Whether the query needs synthesized data (metrics or segments anywhere).
    pub fn needs_data(&self) -> bool {
        self.fields_used()
            .any(|d| matches!(d.category, Category::Metric | Category::Segment))
    }

    /// Whether any field of resource `r` is selected, filtered or sorted.
    pub fn references(&self, r: Res) -> bool {
        self.fields_used().any(|d| d.resource == Some(r))
    }

    fn fields_used(&self) -> impl Iterator<Item = &'static FieldDef> + '_ {
        self.select
            .iter()
            .copied()
            .chain(self.conds.iter().map(|c| catalog::def(c.field)))
            .chain(self.order.iter().map(|(d, _)| *d))
    }

    /// Whether the selected metrics include at least one (summary rows need one).
    pub fn selects_metrics(&self) -> bool {
        self.select.iter().any(|d| d.category == Category::Metric)
    }
}

fn q_err(code: &'static str, message: String, trigger: &str) -> AdsError {
    AdsError::query(code, message, Some(trigger.to_string()))
}

fn bound(t: (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(t.0, t.1, t.2).unwrap_or_default()
}

fn resolve(name: &str) -> Result<&'static FieldDef, AdsError> {
    catalog::field(name).ok_or_else(|| {
        q_err(
            "UNRECOGNIZED_FIELD",
            format!("Unrecognized field in the query: '{name}'."),
            name,
        )
    })
}

/// Where a field is used (selects the error code for an incompatible resource).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Clause {
    Select,
    Where,
    OrderBy,
}

fn check_compatible(from: Res, d: &FieldDef, clause: Clause) -> Result<(), AdsError> {
    match d.category {
        Category::Attribute => {
            let owner = d.resource.unwrap_or(from);
            if !from.attributed().contains(&owner) {
                let code = if clause == Clause::Where {
                    "PROHIBITED_RESOURCE_TYPE_IN_WHERE_CLAUSE"
                } else {
                    "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"
                };
                return Err(q_err(
                    code,
                    format!(
                        "Cannot select or filter on fields of the following resource: '{}' (field '{}'), since the resource is incompatible with the resource in the FROM clause ('{}').",
                        owner.upper(),
                        d.name,
                        from.name()
                    ),
                    d.name,
                ));
            }
        }
        Category::Metric => {
            if !from.supports_metric(d.id) {
                return Err(q_err(
                    "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
                    format!(
                        "Cannot select or filter on the following metrics: '{}' (could not support requested resources: '{}'), since metric is incompatible with the resource in the FROM clause or other selected segmenting resources.",
                        d.name,
                        from.upper()
                    ),
                    d.name,
                ));
            }
        }
        Category::Segment => {
            if !from.supports_segment(d.id) {
                return Err(q_err(
                    "PROHIBITED_SEGMENT_IN_SELECT_OR_WHERE_CLAUSE",
                    format!(
                        "Cannot select or filter on the following segments: '{}' (could not support requested resources: '{}'), since segment is incompatible with the resource in the FROM clause or other selected segmenting resources.",
                        d.name,
                        from.upper()
                    ),
                    d.name,
                ));
            }
        }
        Category::Resource => {}
    }
    Ok(())
}

/// Converts a literal to a value of the field's type.
fn typed(d: &FieldType<'_>, lit: &Lit) -> Result<Val, AdsError> {
    let bad = |code: &'static str, why: &str| {
        q_err(
            code,
            format!(
                "Error in WHERE clause: invalid value '{}' for field '{}': {why}.",
                lit.text(),
                d.name
            ),
            lit.text(),
        )
    };
    match d.data_type {
        DataType::Int64 | DataType::Int32 => match lit {
            Lit::Num(n) | Lit::Str(n) => n
                .parse::<i64>()
                .map(Val::I64)
                .map_err(|_| bad("BAD_VALUE", "expected an integer")),
            Lit::Word(_) => Err(bad("BAD_VALUE", "expected an integer")),
        },
        DataType::Double => match lit {
            Lit::Num(n) | Lit::Str(n) => n
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Val::F64)
                .ok_or_else(|| bad("BAD_VALUE", "expected a number")),
            Lit::Word(_) => Err(bad("BAD_VALUE", "expected a number")),
        },
        DataType::String | DataType::ResourceName | DataType::Message => match lit {
            Lit::Str(s) => Ok(Val::Str(s.clone())),
            _ => Err(bad("INVALID_STRING_VALUE", "string values must be quoted")),
        },
        DataType::Enum => {
            let text = lit.text();
            if matches!(lit, Lit::Num(_)) {
                return Err(bad("BAD_ENUM_CONSTANT", "expected an enum constant"));
            }
            match d.enum_values.iter().find(|v| **v == text) {
                Some(v) => Ok(Val::Enum(v)),
                None if text == "UNKNOWN" || text == "UNSPECIFIED" => Ok(Val::Enum("UNKNOWN")),
                None => Err(q_err(
                    "BAD_ENUM_CONSTANT",
                    format!(
                        "Error in WHERE clause: '{text}' is not a valid value of enum field '{}'; valid values: {}.",
                        d.name,
                        d.enum_values.join(", ")
                    ),
                    text,
                )),
            }
        }
        DataType::Bool => match lit.text().to_ascii_lowercase().as_str() {
            "true" => Ok(Val::Bool(true)),
            "false" => Ok(Val::Bool(false)),
            _ => Err(bad("BAD_VALUE", "expected TRUE or FALSE")),
        },
        DataType::Date => {
            let parsed = match lit {
                Lit::Str(s) | Lit::Num(s) => dates::parse_date(s),
                Lit::Word(_) => None,
            };
            match parsed {
                Some(date) if date >= bound(MIN_DATE) && date <= bound(MAX_DATE) => {
                    Ok(Val::Date(date))
                }
                Some(_) => Err(bad(
                    "BAD_VALUE",
                    "dates must be between 2000-01-01 and 2037-12-31",
                )),
                None => Err(bad(
                    "INVALID_DATE_FORMAT",
                    "expected a date as 'YYYY-MM-DD' or 'YYYYMMDD'",
                )),
            }
        }
    }
}

fn op_allowed(d: &FieldType<'_>, op: Op) -> bool {
    use DataType::*;
    if d.repeated {
        return matches!(
            op,
            Op::ContainsAny | Op::ContainsAll | Op::ContainsNone | Op::IsNull | Op::IsNotNull
        );
    }
    match op {
        Op::IsNull | Op::IsNotNull | Op::Eq | Op::Ne => true,
        Op::In | Op::NotIn => d.data_type != Bool,
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            matches!(d.data_type, Int64 | Int32 | Double | Date | String)
        }
        Op::Like | Op::NotLike | Op::Regexp | Op::NotRegexp => {
            matches!(d.data_type, String | ResourceName)
        }
        Op::During => d.data_type == Date,
        Op::Between => matches!(d.data_type, Date | Int64 | Int32 | Double),
        Op::ContainsAny | Op::ContainsAll | Op::ContainsNone => false,
    }
}

/// Compiles one condition. `today` resolves DURING literals.
pub fn compile_cond(d: &FieldType<'_>, raw: &RawCond, today: NaiveDate) -> Result<Pred, AdsError> {
    if !op_allowed(d, raw.op) {
        return Err(q_err(
            "OPERATOR_FIELD_MISMATCH",
            format!(
                "Error in WHERE clause: operator {} cannot be used with field '{}' ({}{}).",
                raw.op.text(),
                d.name,
                if d.repeated { "repeated " } else { "" },
                d.data_type.as_str()
            ),
            &raw.field,
        ));
    }
    let mut pred = Pred {
        op: raw.op,
        values: Vec::new(),
        like: None,
        regex: None,
    };
    match (&raw.rhs, raw.op) {
        (Rhs::One(lit), Op::During) => {
            let (a, b) = dates::during(lit.text(), today).ok_or_else(|| {
                q_err(
                    "INVALID_VALUE_WITH_DURING_OPERATOR",
                    format!(
                        "Error in WHERE clause: '{}' is not a valid date range literal for the DURING operator on '{}'; valid literals: {}. For other ranges use BETWEEN 'YYYY-MM-DD' AND 'YYYY-MM-DD'.",
                        lit.text(),
                        d.name,
                        dates::DURING_LITERALS.join(", ")
                    ),
                    lit.text(),
                )
            })?;
            pred.values = vec![Val::Date(a), Val::Date(b)];
        }
        (Rhs::One(lit), Op::Like | Op::NotLike) => {
            let Lit::Str(p) = lit else {
                return Err(typed(d, lit).err().unwrap_or_else(|| {
                    q_err(
                        "INVALID_STRING_VALUE",
                        "LIKE takes a quoted pattern.".into(),
                        lit.text(),
                    )
                }));
            };
            pred.like = Some(compile_like(p).ok_or_else(|| {
                q_err(
                    "INVALID_VALUE_WITH_LIKE_OPERATOR",
                    format!("Error in WHERE clause: invalid LIKE pattern '{p}' on '{}' (an unterminated [ ] escape).", d.name),
                    p,
                )
            })?);
        }
        (Rhs::One(lit), Op::Regexp | Op::NotRegexp) => {
            let Lit::Str(p) = lit else {
                return Err(q_err(
                    "INVALID_STRING_VALUE",
                    "REGEXP_MATCH takes a quoted pattern.".into(),
                    lit.text(),
                ));
            };
            let regex = Regex::builder()
                .configure(Regex::config().nfa_size_limit(Some(REGEX_SIZE_LIMIT)))
                .build(&format!("^(?:{p})$"))
                .map_err(|_| {
                    q_err(
                        "BAD_VALUE",
                        format!("Error in WHERE clause: invalid regular expression '{p}' (RE2 syntax) on '{}'.", d.name),
                        p,
                    )
                })?;
            pred.regex = Some(Box::new(regex));
        }
        (Rhs::One(lit), _) => pred.values = vec![typed(d, lit)?],
        (Rhs::List(list), _) => {
            pred.values = list
                .iter()
                .map(|l| {
                    if d.repeated {
                        // Elements of a repeated field have the element type.
                        match l {
                            Lit::Str(s) => Ok(Val::Str(s.clone())),
                            _ => Err(q_err(
                                "INVALID_STRING_VALUE",
                                format!("Error in WHERE clause: values for '{}' must be quoted strings.", d.name),
                                l.text(),
                            )),
                        }
                    } else {
                        typed(d, l)
                    }
                })
                .collect::<Result<_, _>>()?;
        }
        (Rhs::Range(a, b), _) => {
            let va = typed(d, a).map_err(|e| between_error(e, d))?;
            let vb = typed(d, b).map_err(|e| between_error(e, d))?;
            if va.cmp_val(&vb) == Some(Ordering::Greater) {
                return Err(q_err(
                    "DATE_RANGE_TOO_NARROW",
                    format!(
                        "Error in WHERE clause: the BETWEEN range on '{}' starts ('{}') after it ends ('{}').",
                        d.name,
                        a.text(),
                        b.text()
                    ),
                    a.text(),
                ));
            }
            pred.values = vec![va, vb];
        }
        (Rhs::None, _) => {}
    }
    Ok(pred)
}

fn between_error(mut e: AdsError, d: &FieldType<'_>) -> AdsError {
    if d.data_type == DataType::Date
        && let Some(item) = e.errors.first_mut()
    {
        item.code = "INVALID_VALUE_WITH_BETWEEN_OPERATOR";
    }
    e
}

/// The inclusive date interval a date-segment value stands for.
fn period(f: F, v: &Val) -> Option<(NaiveDate, NaiveDate)> {
    match (f, v) {
        (F::SDate, Val::Date(d)) => Some((*d, *d)),
        (F::SWeek, Val::Date(d)) => Some((*d, *d + chrono::Duration::days(6))),
        (F::SMonth, Val::Date(d)) => Some((*d, dates::month_end(*d))),
        (F::SQuarter, Val::Date(d)) => Some((*d, dates::quarter_end(*d))),
        (F::SYear, Val::I64(y)) => {
            let y = i32::try_from(*y).ok()?;
            Some((
                NaiveDate::from_ymd_opt(y, 1, 1)?,
                NaiveDate::from_ymd_opt(y, 12, 31)?,
            ))
        }
        _ => None,
    }
}

/// Checks that week/month/quarter values are period starts.
fn check_aligned(f: F, v: &Val, name: &str) -> Result<(), AdsError> {
    let Val::Date(d) = v else { return Ok(()) };
    let (ok, what) = match f {
        F::SWeek => (dates::is_monday(*d), "a Monday (the first day of the week)"),
        F::SMonth => (d.day() == 1, "the first day of a month"),
        F::SQuarter => (*d == dates::quarter_start(*d), "the first day of a quarter"),
        _ => (true, ""),
    };
    if ok {
        Ok(())
    } else {
        Err(q_err(
            "MISALIGNED_DATE_FOR_FILTER",
            format!("Error in WHERE clause: the date '{d}' for '{name}' must be {what}."),
            &d.to_string(),
        ))
    }
}

/// Tightens `bounds` with a date-segment condition.
fn narrow(bounds: &mut (Option<NaiveDate>, Option<NaiveDate>), f: F, op: Op, values: &[Val]) {
    let mut lo: Option<NaiveDate> = None;
    let mut hi: Option<NaiveDate> = None;
    let periods: Vec<(NaiveDate, NaiveDate)> = values.iter().filter_map(|v| period(f, v)).collect();
    match op {
        Op::Eq | Op::In | Op::Between | Op::During => {
            if matches!(op, Op::Between | Op::During) && periods.len() == 2 {
                lo = Some(periods[0].0);
                hi = Some(periods[1].1);
            } else if !periods.is_empty() {
                lo = periods.iter().map(|p| p.0).min();
                hi = periods.iter().map(|p| p.1).max();
            }
        }
        Op::Gt => lo = periods.first().and_then(|p| p.1.succ_opt()),
        Op::Ge => lo = periods.first().map(|p| p.0),
        Op::Lt => hi = periods.first().and_then(|p| p.0.pred_opt()),
        Op::Le => hi = periods.first().map(|p| p.1),
        _ => {}
    }
    if let Some(l) = lo {
        bounds.0 = Some(bounds.0.map_or(l, |b| b.max(l)));
    }
    if let Some(h) = hi {
        bounds.1 = Some(bounds.1.map_or(h, |b| b.min(h)));
    }
}

/// Validates a parsed query; `today` is the customer's today (for DURING).
pub fn compile(raw: &RawQuery, today: NaiveDate) -> Result<Query, AdsError> {
    let Some((from_name, _)) = &raw.from else {
        return Err(AdsError::query(
            "EXPECTED_FROM",
            "Error in query: missing FROM clause.",
            None,
        ));
    };
    let from = Res::from_name(from_name).ok_or_else(|| {
        q_err(
            "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
            format!(
                "Error in FROM clause: invalid resource '{from_name}'. The sandbox supports: {}.",
                catalog::RESOURCES
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            from_name,
        )
    })?;
    let mut select: Vec<&'static FieldDef> = Vec::new();
    for (name, _) in &raw.select {
        let d = resolve(name)?;
        check_compatible(from, d, Clause::Select)?;
        if !select.iter().any(|s| s.id == d.id) {
            select.push(d);
        }
    }
    let mut conds = Vec::new();
    let mut date_bounds = (None, None);
    let mut date_filtered = false;
    for rc in &raw.conds {
        let d = resolve(&rc.field)?;
        check_compatible(from, d, Clause::Where)?;
        if d.category == Category::Segment
            && !catalog::is_date_segment(d.id)
            && !select.iter().any(|s| s.id == d.id)
        {
            return Err(q_err(
                "EXPECTED_REFERENCED_FIELD_IN_SELECT_CLAUSE",
                format!(
                    "Error in WHERE clause: the segment '{}' is filtered on but not selected; add it to the SELECT clause.",
                    d.name
                ),
                d.name,
            ));
        }
        let pred = compile_cond(&d.ty(), rc, today)?;
        if catalog::is_date_segment(d.id) {
            for v in &pred.values {
                check_aligned(d.id, v, d.name)?;
            }
            narrow(&mut date_bounds, d.id, rc.op, &pred.values);
            date_filtered |= d.id == F::SDate;
        }
        conds.push(Cond { field: d.id, pred });
    }
    let mut order = Vec::new();
    for ro in &raw.order {
        let d = resolve(&ro.field)?;
        check_compatible(from, d, Clause::OrderBy)?;
        if !d.sortable() {
            return Err(q_err(
                "PROHIBITED_FIELD_IN_ORDER_BY_CLAUSE",
                format!(
                    "Error in ORDER BY clause: the field '{}' cannot be sorted on.",
                    d.name
                ),
                d.name,
            ));
        }
        if d.category == Category::Segment && !select.iter().any(|s| s.id == d.id) {
            return Err(q_err(
                "EXPECTED_REFERENCED_FIELD_IN_SELECT_CLAUSE",
                format!(
                    "Error in ORDER BY clause: the segment '{}' is sorted on but not selected.",
                    d.name
                ),
                d.name,
            ));
        }
        order.push((d, ro.desc));
    }
    let mut omit = false;
    for (name, value) in &raw.params {
        let flag = match value.text().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(q_err(
                    "BAD_PARAMETER_VALUE",
                    format!(
                        "Error in PARAMETERS clause: '{}' is not a valid value for '{name}' (true or false).",
                        value.text()
                    ),
                    value.text(),
                ));
            }
        };
        match name.as_str() {
            "include_drafts" => {}
            "omit_unselected_resource_names" => omit = flag,
            _ => {
                return Err(q_err(
                    "BAD_PARAMETER_NAME",
                    format!("Error in PARAMETERS clause: unknown parameter '{name}'."),
                    name,
                ));
            }
        }
    }
    let query = Query {
        from,
        select,
        conds,
        order,
        limit: raw.limit,
        omit_unselected_resource_names: omit,
        date_bounds,
    };
    // Segment/metric pairs that cannot be reported together.
    for s in query
        .select
        .iter()
        .filter(|d| d.category == Category::Segment)
    {
        if let Some(m) = query.fields_used().find(|m| {
            m.category == Category::Metric && catalog::metric_segment_conflict(m.id, s.id)
        }) {
            return Err(q_err(
                "PROHIBITED_SEGMENT_WITH_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
                format!(
                    "Cannot select or filter on the following segment: '{}', since it is incompatible with the metric '{}'.",
                    s.name, m.name
                ),
                s.name,
            ));
        }
    }
    let date_selected = query.select.iter().find(|d| catalog::is_date_segment(d.id));
    let finite = matches!(query.date_bounds, (Some(_), Some(_)));
    if (date_selected.is_some() || date_filtered) && !finite {
        let what = date_selected.map(|d| d.name).unwrap_or("segments.date");
        return Err(q_err(
            "EXPECTED_FILTERS_ON_DATE_RANGE",
            format!(
                "Error in query: '{what}' requires a finite date range in the WHERE clause, e.g. segments.date DURING LAST_30_DAYS or segments.date BETWEEN '2026-01-01' AND '2026-01-31'."
            ),
            what,
        ));
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gads::gaql::parse;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 10, 20).unwrap()
    }

    fn ok(q: &str) -> Query {
        compile(&parse(q, true).unwrap(), today()).unwrap()
    }

    fn code(q: &str) -> String {
        let e = compile(&parse(q, true).unwrap(), today()).unwrap_err();
        e.errors[0].code.to_string()
    }

    #[test]
    fn valid_queries_compile() {
        let q = ok(
            "SELECT campaign.id, campaign.name, metrics.clicks, segments.date FROM campaign \
                    WHERE segments.date DURING LAST_7_DAYS AND campaign.status = ENABLED ORDER BY metrics.clicks DESC LIMIT 3",
        );
        assert_eq!(q.from, Res::Campaign);
        assert_eq!(
            q.date_bounds,
            (
                NaiveDate::from_ymd_opt(2026, 10, 13),
                NaiveDate::from_ymd_opt(2026, 10, 19)
            )
        );
        assert!(q.uses_metrics() && q.needs_data());
        let q = ok(
            "SELECT segments.week, metrics.clicks FROM customer WHERE segments.week >= '2026-09-07' AND segments.week <= '2026-10-12'",
        );
        assert_eq!(
            q.date_bounds,
            (
                NaiveDate::from_ymd_opt(2026, 9, 7),
                NaiveDate::from_ymd_opt(2026, 10, 18)
            )
        );
        let q = ok("SELECT campaign.name FROM campaign");
        assert!(!q.needs_data());
        ok(
            "SELECT ad_group_criterion.keyword.text, metrics.ctr FROM keyword_view WHERE segments.date BETWEEN 20260101 AND '2026-01-31'",
        );
        ok(
            "SELECT search_term_view.search_term, segments.keyword.info.text, segments.keyword.info.match_type FROM search_term_view WHERE segments.keyword.info.match_type = 'EXACT'",
        );
        ok(
            "SELECT ad_group_ad.ad.id FROM ad_group_ad WHERE ad_group_ad.ad.final_urls CONTAINS ANY ('https://x/') AND ad_group_ad.ad.name IS NULL",
        );
        ok(
            "SELECT campaign.id FROM campaign PARAMETERS include_drafts = true, omit_unselected_resource_names = true",
        );
    }

    #[test]
    fn rule_violations() {
        assert_eq!(
            code("SELECT campaign.nme FROM campaign"),
            "UNRECOGNIZED_FIELD"
        );
        assert_eq!(code("SELECT campaign.id"), "EXPECTED_FROM");
        assert_eq!(
            code("SELECT campaign.id FROM campagn"),
            "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"
        );
        assert_eq!(
            code("SELECT ad_group.name FROM campaign"),
            "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"
        );
        assert_eq!(
            code("SELECT campaign.id FROM campaign WHERE ad_group.id = 1"),
            "PROHIBITED_RESOURCE_TYPE_IN_WHERE_CLAUSE"
        );
        assert_eq!(
            code("SELECT customer_client.id, metrics.clicks FROM customer_client"),
            "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE"
        );
        assert_eq!(
            code("SELECT campaign.id, segments.keyword.info.text FROM campaign"),
            "PROHIBITED_SEGMENT_IN_SELECT_OR_WHERE_CLAUSE"
        );
        assert_eq!(
            code(
                "SELECT campaign.id, segments.date FROM campaign WHERE segments.date DURING LAST_90_DAYS"
            ),
            "INVALID_VALUE_WITH_DURING_OPERATOR"
        );
        assert_eq!(
            code("SELECT campaign.id, segments.date FROM campaign"),
            "EXPECTED_FILTERS_ON_DATE_RANGE"
        );
        assert_eq!(
            code("SELECT campaign.id FROM campaign WHERE segments.date > '2026-01-01'"),
            "EXPECTED_FILTERS_ON_DATE_RANGE"
        );
        assert_eq!(
            code(
                "SELECT campaign.id, segments.week FROM campaign WHERE segments.week = '2026-10-14'"
            ),
            "MISALIGNED_DATE_FOR_FILTER"
        );
        assert_eq!(
            code(
                "SELECT campaign.id, segments.month FROM campaign WHERE segments.month BETWEEN '2026-01-02' AND '2026-03-01'"
            ),
            "MISALIGNED_DATE_FOR_FILTER"
        );
        assert_eq!(
            code("SELECT campaign.id FROM campaign WHERE segments.device = 'MOBILE'"),
            "EXPECTED_REFERENCED_FIELD_IN_SELECT_CLAUSE"
        );
        assert_eq!(
            code("SELECT campaign.id FROM campaign WHERE campaign.status = 'enabled'"),
            "BAD_ENUM_CONSTANT"
        );
        assert_eq!(
            code("SELECT campaign.id FROM campaign WHERE campaign.name = 5"),
            "INVALID_STRING_VALUE"
        );
        assert_eq!(
            code("SELECT campaign.id FROM campaign WHERE campaign.id LIKE '1%'"),
            "OPERATOR_FIELD_MISMATCH"
        );
        assert_eq!(
            code(
                "SELECT campaign.id FROM campaign WHERE segments.date BETWEEN '2026-02-01' AND '2026-01-01'"
            ),
            "DATE_RANGE_TOO_NARROW"
        );
        assert_eq!(
            code(
                "SELECT campaign.id FROM campaign WHERE segments.date BETWEEN 'soon' AND '2026-01-01'"
            ),
            "INVALID_VALUE_WITH_BETWEEN_OPERATOR"
        );
        assert_eq!(
            code("SELECT campaign.id FROM campaign WHERE campaign.start_date = '2026/01/01'"),
            "INVALID_DATE_FORMAT"
        );
        assert_eq!(
            code("SELECT ad_group_ad.ad.id FROM ad_group_ad ORDER BY ad_group_ad.ad.final_urls"),
            "PROHIBITED_FIELD_IN_ORDER_BY_CLAUSE"
        );
        assert_eq!(
            code(
                "SELECT campaign.id, metrics.search_impression_share, segments.hour FROM campaign"
            ),
            "PROHIBITED_SEGMENT_WITH_METRIC_IN_SELECT_OR_WHERE_CLAUSE"
        );
        assert_eq!(
            code("SELECT campaign.id FROM campaign PARAMETERS foo = true"),
            "BAD_PARAMETER_NAME"
        );
        assert_eq!(
            code("SELECT campaign.id FROM campaign PARAMETERS include_drafts = maybe"),
            "BAD_PARAMETER_VALUE"
        );
        assert_eq!(
            code("SELECT campaign.id FROM campaign WHERE campaign.name REGEXP_MATCH '('"),
            "BAD_VALUE"
        );
    }

    #[test]
    fn unrecognized_field_names_the_field() {
        let e = compile(
            &parse("SELECT campaign.nme FROM campaign", true).unwrap(),
            today(),
        )
        .unwrap_err();
        assert_eq!(
            e.errors[0].message,
            "Unrecognized field in the query: 'campaign.nme'."
        );
        assert_eq!(e.errors[0].trigger.as_deref(), Some("campaign.nme"));
    }

    #[test]
    fn predicates() {
        let q = ok(
            "SELECT campaign.id FROM campaign WHERE campaign.name LIKE '%Search' AND campaign.name NOT LIKE 'Brand_%' \
                    AND campaign.name REGEXP_MATCH '(?i).*search.*' AND campaign.id IN (1, 2) AND campaign.start_date DURING LAST_30_DAYS",
        );
        let name = Val::Str("Generic - Search".into());
        assert!(q.conds[0].pred.test(&name));
        assert!(q.conds[1].pred.test(&name));
        assert!(!q.conds[1].pred.test(&Val::Str("Brand - Search".into())));
        assert!(q.conds[2].pred.test(&name));
        assert!(q.conds[3].pred.test(&Val::I64(2)) && !q.conds[3].pred.test(&Val::I64(3)));
        assert!(
            q.conds[4]
                .pred
                .test(&Val::Date(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()))
        );
        assert!(!q.conds[4].pred.test(&Val::Null));
    }

    #[test]
    fn like_matching() {
        let m = |p: &str, t: &str| like_match(&compile_like(p).unwrap(), t);
        assert!(m("campaign.%", "campaign.id"));
        assert!(m("%", ""));
        assert!(m("a_c", "abc") && !m("a_c", "abbc"));
        assert!(m("100[%]", "100%") && !m("100[%]", "1000"));
        assert!(m("%a%b%c%", "xxaxxbxxcxx"));
        assert!(!m("%a%b%c%d", "abcabcabcabcabcabc"));
        assert!(compile_like("[x").is_none());
        // Pathological pattern stays fast (no exponential backtracking).
        let text = "a".repeat(5000);
        assert!(!m(&format!("{}b", "%a".repeat(200)), &text));
    }
}
