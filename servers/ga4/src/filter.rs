//! Filter expressions as text: `country = 'Poland' AND NOT pagePath BEGINS_WITH '/blog'`.
//!
//! The Data API's FilterExpression is recursive (groups of expressions of groups…). Published
//! as JSON Schema, recursion is what agent frameworks cannot take: google-genai refuses
//! `$ref`, LangChain cuts it to `{}`, strict modes refuse it, and unrolled to even two levels it
//! costs more than the rest of the tool list (issue 17). As text, like Google Ads' GAQL, a
//! filter is one `string` parameter of any depth, and a model writes it as readily as SQL.
//! [`parse`] turns it into the same [`FilterExpression`] the object form gives.
//!
//! ```text
//! expr      := term (OR term)*
//! term      := factor (AND factor)*
//! factor    := NOT factor | '(' expr ')' | condition
//! condition := FIELD ( ('=' | '!=') (STRING [CASE_SENSITIVE] | NUMBER)
//!                    | ('<' | '<=' | '>' | '>=') NUMBER
//!                    | [NOT] BETWEEN NUMBER AND NUMBER
//!                    | [NOT] IN '(' STRING (',' STRING)* ')' [CASE_SENSITIVE]
//!                    | (CONTAINS | BEGINS_WITH | ENDS_WITH | REGEXP | PARTIAL_REGEXP)
//!                      STRING [CASE_SENSITIVE]
//!                    | IS [NOT] EMPTY )
//! ```
//! Keywords are case-insensitive; `NOT` may also stand before any keyword operator (`pagePath
//! NOT CONTAINS 'x'`). Strings take single or double quotes; `\'`, `\"` and `\\` are escapes,
//! any other backslash is kept as written (regular expressions keep their `\d`). In a dimension
//! filter a number compared with `=` or `!=` is text (dimension values are strings: `hour = 9`
//! matches "9"). At most [`MAX_LEN`] characters and [`MAX_DEPTH`] levels of `NOT` and
//! parentheses: a filter is data from a model, and deeper input would exhaust the stack.

use crate::params::{
    BetweenFilter, EmptyFilter, Filter, FilterExpression, FilterExpressionList, InListFilter,
    Int64, MatchType, NumericFilter, NumericOperation, NumericValue, StringFilter,
};

/// Most characters a filter may have.
pub const MAX_LEN: usize = 10_000;
/// Most levels of `NOT` and parentheses, one inside another.
pub const MAX_DEPTH: usize = 32;

/// Which filter a text is: dimension values are strings, metric values numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    /// `dimension_filter` and funnel steps.
    Dimensions,
    /// `metric_filter`.
    Metrics,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Number(String),
    Symbol(&'static str),
}

struct Lexed {
    token: Token,
    at: usize,
}

fn lex(input: &str) -> Result<Vec<Lexed>, String> {
    // Positions count characters, as a reader (or a model) counts them.
    let chars: Vec<(usize, char)> = input.chars().enumerate().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            let mut text = String::new();
            i += 1;
            loop {
                let Some(&(_, d)) = chars.get(i) else {
                    return Err(format!("the quote at position {} is never closed", at + 1));
                };
                i += 1;
                if d == '\\' {
                    let Some(&(_, e)) = chars.get(i) else {
                        return Err(format!("the quote at position {} is never closed", at + 1));
                    };
                    // Only quotes and the backslash itself are escaped; `\d` stays `\d`.
                    if !matches!(e, '\'' | '"' | '\\') {
                        text.push('\\');
                    }
                    text.push(e);
                    i += 1;
                } else if d == c {
                    break;
                } else {
                    text.push(d);
                }
            }
            out.push(Lexed {
                token: Token::Text(text),
                at,
            });
            continue;
        }
        let starts_number = c.is_ascii_digit()
            || (matches!(c, '-' | '.')
                && chars.get(i + 1).is_some_and(|(_, d)| d.is_ascii_digit()));
        if starts_number {
            let start = i;
            i += 1;
            while let Some(&(_, d)) = chars.get(i) {
                let exponent_sign = matches!(d, '+' | '-') && matches!(chars[i - 1].1, 'e' | 'E');
                if d.is_ascii_digit() || matches!(d, '.' | 'e' | 'E') || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            let number: String = chars[start..i].iter().map(|(_, d)| d).collect();
            out.push(Lexed {
                token: Token::Number(number),
                at,
            });
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while let Some(&(_, d)) = chars.get(i) {
                // Custom fields are `customEvent:shoe_size`, `customUser:tier`.
                if d.is_alphanumeric() || matches!(d, '_' | ':') {
                    i += 1;
                } else {
                    break;
                }
            }
            let word: String = chars[start..i].iter().map(|(_, d)| d).collect();
            out.push(Lexed {
                token: Token::Word(word),
                at,
            });
            continue;
        }
        let next = chars.get(i + 1).map(|(_, d)| *d);
        let (symbol, width) = match (c, next) {
            ('!', Some('=')) | ('<', Some('>')) => ("!=", 2),
            ('<', Some('=')) => ("<=", 2),
            ('>', Some('=')) => (">=", 2),
            ('=', Some('=')) => ("=", 2),
            ('=', _) => ("=", 1),
            ('<', _) => ("<", 1),
            ('>', _) => (">", 1),
            ('(', _) => ("(", 1),
            (')', _) => (")", 1),
            (',', _) => (",", 1),
            _ => {
                return Err(format!(
                    "unexpected {c:?} at position {}: quote values, e.g. pagePath = '/cart'",
                    at + 1
                ));
            }
        };
        out.push(Lexed {
            token: Token::Symbol(symbol),
            at,
        });
        i += width;
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Lexed>,
    next: usize,
    len: usize,
    fields: Fields,
    depth: usize,
}

/// Parses `input`, a filter on `fields`, into a filter expression; the error says where and
/// what was expected.
pub fn parse(input: &str, fields: Fields) -> Result<FilterExpression, String> {
    if input.trim().is_empty() {
        return Err("the filter is empty: leave it out, or write e.g. country = 'Poland'".into());
    }
    let len = input.chars().count();
    if len > MAX_LEN {
        return Err(format!(
            "the filter has {len} characters; at most {MAX_LEN}: use IN ('a', 'b', …) for many values"
        ));
    }
    let mut parser = Parser {
        tokens: lex(input)?,
        next: 0,
        len,
        fields,
        depth: 0,
    };
    let expr = parser.or()?;
    if let Some(extra) = parser.tokens.get(parser.next) {
        return Err(format!(
            "unexpected {} at position {}: join conditions with AND or OR",
            describe(&extra.token),
            extra.at + 1
        ));
    }
    Ok(expr)
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("`{w}`"),
        Token::Text(t) => format!("'{t}'"),
        Token::Number(n) => n.clone(),
        Token::Symbol(s) => format!("`{s}`"),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|l| &l.token)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.next).map_or(self.len, |l| l.at) + 1
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word)) {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn symbol(&mut self, symbol: &str) -> bool {
        if matches!(self.peek(), Some(Token::Symbol(s)) if *s == symbol) {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn expected(&self, what: &str) -> String {
        match self.peek() {
            Some(t) => format!(
                "expected {what} at position {}, found {}",
                self.position(),
                describe(t)
            ),
            None => format!("expected {what} at the end"),
        }
    }

    fn or(&mut self) -> Result<FilterExpression, String> {
        let mut items = vec![self.and()?];
        while self.keyword("OR") {
            items.push(self.and()?);
        }
        Ok(group(items, |list| FilterExpression {
            or_group: Some(list),
            ..Default::default()
        }))
    }

    fn and(&mut self) -> Result<FilterExpression, String> {
        let mut items = vec![self.factor()?];
        while self.keyword("AND") {
            items.push(self.factor()?);
        }
        Ok(group(items, |list| FilterExpression {
            and_group: Some(list),
            ..Default::default()
        }))
    }

    fn factor(&mut self) -> Result<FilterExpression, String> {
        let negate = self.keyword("NOT");
        let open = !negate && self.symbol("(");
        if !negate && !open {
            return self.condition();
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "the filter nests NOT and parentheses more than {MAX_DEPTH} deep (at position {})",
                self.position()
            ));
        }
        let inner = if negate {
            not(self.factor()?)
        } else {
            let inner = self.or()?;
            if !self.symbol(")") {
                return Err(self.expected("`)`"));
            }
            inner
        };
        self.depth -= 1;
        Ok(inner)
    }

    fn text(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Token::Text(t)) => {
                let t = t.clone();
                self.next += 1;
                Ok(t)
            }
            _ => Err(self.expected("a quoted value, e.g. 'Poland'")),
        }
    }

    fn number(&mut self) -> Result<NumericValue, String> {
        let Some(Token::Number(n)) = self.peek() else {
            return Err(self.expected("a number"));
        };
        let value = number_value(n)
            .ok_or_else(|| format!("{n} at position {} is not a number", self.position()))?;
        self.next += 1;
        Ok(value)
    }

    fn case_sensitive(&mut self) -> Option<bool> {
        self.keyword("CASE_SENSITIVE").then_some(true)
    }

    fn condition(&mut self) -> Result<FilterExpression, String> {
        let field = match self.peek() {
            Some(Token::Word(w)) => w.clone(),
            _ => return Err(self.expected("a field name, e.g. country")),
        };
        self.next += 1;
        let filter = |f: Filter| FilterExpression {
            filter: Some(Filter {
                field_name: field.clone(),
                ..f
            }),
            ..Default::default()
        };
        let string = |match_type, value, case_sensitive| {
            filter(Filter {
                string_filter: Some(StringFilter {
                    match_type: Some(match_type),
                    value,
                    case_sensitive,
                }),
                ..Default::default()
            })
        };
        let numeric = |operation, value| {
            filter(Filter {
                numeric_filter: Some(NumericFilter { operation, value }),
                ..Default::default()
            })
        };
        for (symbol, operation) in [
            ("<", NumericOperation::LessThan),
            ("<=", NumericOperation::LessThanOrEqual),
            (">", NumericOperation::GreaterThan),
            (">=", NumericOperation::GreaterThanOrEqual),
        ] {
            if self.symbol(symbol) {
                return Ok(numeric(operation, self.number()?));
            }
        }
        for (symbol, negate) in [("=", false), ("!=", true)] {
            if self.symbol(symbol) {
                let condition = match self.peek() {
                    // Dimension values are strings: `hour = 9` is the text "9".
                    Some(Token::Number(n)) if self.fields == Fields::Dimensions => {
                        let value = n.clone();
                        self.next += 1;
                        string(MatchType::Exact, value, None)
                    }
                    Some(Token::Number(_)) => numeric(NumericOperation::Equal, self.number()?),
                    _ => {
                        let value = self.text()?;
                        string(MatchType::Exact, value, self.case_sensitive())
                    }
                };
                return Ok(if negate { not(condition) } else { condition });
            }
        }
        let negate = self.keyword("NOT");
        let negated = |condition| if negate { not(condition) } else { condition };
        for (word, match_type) in [
            ("CONTAINS", MatchType::Contains),
            ("BEGINS_WITH", MatchType::BeginsWith),
            ("ENDS_WITH", MatchType::EndsWith),
            ("REGEXP", MatchType::FullRegexp),
            ("PARTIAL_REGEXP", MatchType::PartialRegexp),
        ] {
            if self.keyword(word) {
                let value = self.text()?;
                return Ok(negated(string(match_type, value, self.case_sensitive())));
            }
        }
        if !negate && self.keyword("IS") {
            let negate = self.keyword("NOT");
            if !self.keyword("EMPTY") {
                return Err(self.expected("EMPTY"));
            }
            let condition = filter(Filter {
                empty_filter: Some(EmptyFilter {}),
                ..Default::default()
            });
            return Ok(if negate { not(condition) } else { condition });
        }
        if self.keyword("BETWEEN") {
            let from_value = self.number()?;
            if !self.keyword("AND") {
                return Err(self.expected("AND (BETWEEN 1 AND 5)"));
            }
            let to_value = self.number()?;
            let condition = filter(Filter {
                between_filter: Some(BetweenFilter {
                    from_value,
                    to_value,
                }),
                ..Default::default()
            });
            return Ok(negated(condition));
        }
        if self.keyword("IN") {
            if !self.symbol("(") {
                return Err(self.expected("`(` (IN ('a', 'b'))"));
            }
            let mut values = vec![self.text()?];
            while self.symbol(",") {
                values.push(self.text()?);
            }
            if !self.symbol(")") {
                return Err(self.expected("`,` or `)`"));
            }
            let condition = filter(Filter {
                in_list_filter: Some(InListFilter {
                    values,
                    case_sensitive: self.case_sensitive(),
                }),
                ..Default::default()
            });
            return Ok(negated(condition));
        }
        if negate {
            return Err(self.expected(
                "CONTAINS, BEGINS_WITH, ENDS_WITH, REGEXP, PARTIAL_REGEXP, IN or BETWEEN after NOT (or NOT before the field: NOT country = 'Poland')",
            ));
        }
        Err(self.expected(&format!(
            "an operator after `{field}` (= != < <= > >= CONTAINS BEGINS_WITH ENDS_WITH REGEXP PARTIAL_REGEXP IN BETWEEN IS EMPTY)"
        )))
    }
}

fn number_value(n: &str) -> Option<NumericValue> {
    if let Ok(i) = n.parse::<i64>() {
        return Some(NumericValue {
            int64_value: Some(Int64(i)),
            double_value: None,
        });
    }
    n.parse::<f64>()
        .ok()
        .filter(|d| d.is_finite())
        .map(|d| NumericValue {
            int64_value: None,
            double_value: Some(d),
        })
}

fn not(inner: FilterExpression) -> FilterExpression {
    FilterExpression {
        not_expression: Some(Box::new(inner)),
        ..Default::default()
    }
}

/// One item stays itself; several become a group (`a AND b AND c` is one group of three).
fn group(
    mut items: Vec<FilterExpression>,
    make: impl FnOnce(FilterExpressionList) -> FilterExpression,
) -> FilterExpression {
    if items.len() == 1 {
        return items.remove(0);
    }
    make(FilterExpressionList { expressions: items })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rest(input: &str) -> serde_json::Value {
        serde_json::to_value(parse(input, Fields::Metrics).expect("parses")).expect("serialises")
    }

    #[test]
    fn one_condition_is_one_filter() {
        assert_eq!(
            rest("country = 'Poland'"),
            json!({"filter": {"fieldName": "country", "stringFilter": {"matchType": "EXACT", "value": "Poland"}}})
        );
        assert_eq!(
            rest("sessions > 100"),
            json!({"filter": {"fieldName": "sessions", "numericFilter": {"operation": "GREATER_THAN", "value": {"int64Value": "100"}}}})
        );
        assert_eq!(
            rest("engagementRate <= 0.5"),
            json!({"filter": {"fieldName": "engagementRate", "numericFilter": {"operation": "LESS_THAN_OR_EQUAL", "value": {"doubleValue": 0.5}}}})
        );
    }

    #[test]
    fn and_binds_tighter_than_or_and_groups_flatten() {
        assert_eq!(
            rest("a = 'x' OR b = 'y' AND c = 'z' AND d = 'w'"),
            json!({"orGroup": {"expressions": [
                {"filter": {"fieldName": "a", "stringFilter": {"matchType": "EXACT", "value": "x"}}},
                {"andGroup": {"expressions": [
                    {"filter": {"fieldName": "b", "stringFilter": {"matchType": "EXACT", "value": "y"}}},
                    {"filter": {"fieldName": "c", "stringFilter": {"matchType": "EXACT", "value": "z"}}},
                    {"filter": {"fieldName": "d", "stringFilter": {"matchType": "EXACT", "value": "w"}}}
                ]}}
            ]}})
        );
        let grouped = rest("(a = 'x' OR b = 'y') AND NOT c CONTAINS 'z'");
        assert_eq!(
            grouped["andGroup"]["expressions"][0]["orGroup"]["expressions"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        assert_eq!(
            grouped["andGroup"]["expressions"][1],
            json!({"notExpression": {"filter": {"fieldName": "c", "stringFilter": {"matchType": "CONTAINS", "value": "z"}}}})
        );
    }

    #[test]
    fn every_operator() {
        assert_eq!(
            rest("pagePath not in ('/a', \"/b\") case_sensitive"),
            json!({"notExpression": {"filter": {"fieldName": "pagePath", "inListFilter": {"values": ["/a", "/b"], "caseSensitive": true}}}})
        );
        assert_eq!(
            rest("sessions BETWEEN 1 AND 5.5"),
            json!({"filter": {"fieldName": "sessions", "betweenFilter": {"fromValue": {"int64Value": "1"}, "toValue": {"doubleValue": 5.5}}}})
        );
        assert_eq!(
            rest("customEvent:shoe_size IS NOT EMPTY"),
            json!({"notExpression": {"filter": {"fieldName": "customEvent:shoe_size", "emptyFilter": {}}}})
        );
        assert_eq!(
            rest("x != 'It\\'s'"),
            json!({"notExpression": {"filter": {"fieldName": "x", "stringFilter": {"matchType": "EXACT", "value": "It's"}}}})
        );
        for (op, t) in [
            ("BEGINS_WITH", "BEGINS_WITH"),
            ("ends_with", "ENDS_WITH"),
            ("REGEXP", "FULL_REGEXP"),
            ("partial_regexp", "PARTIAL_REGEXP"),
        ] {
            assert_eq!(
                rest(&format!("p {op} '^/x'"))["filter"]["stringFilter"]["matchType"],
                t
            );
        }
        assert_eq!(
            rest("n == -3")["filter"]["numericFilter"]["value"]["int64Value"],
            "-3"
        );
        assert_eq!(
            rest("n <> 2")["notExpression"]["filter"]["numericFilter"]["operation"],
            "EQUAL"
        );
    }

    #[test]
    fn errors_say_where_and_what() {
        for (input, expected) in [
            ("", "the filter is empty"),
            ("country", "expected an operator after `country`"),
            (
                "country = Poland",
                "expected a quoted value, e.g. 'Poland' at position 11, found `Poland`",
            ),
            ("country = 'Poland", "never closed"),
            ("a = 'x' b = 'y'", "unexpected `b` at position 9"),
            ("(a = 'x'", "expected `)` at the end"),
            ("a IN ('x' 'y')", "expected `,` or `)`"),
            ("a > 'x'", "expected a number"),
            ("a BETWEEN 1 5", "expected AND"),
            ("a = 'x' AND", "expected a field name"),
            ("a ~ 'x'", "unexpected '~' at position 3"),
            ("a > 1e999", "not a number"),
            ("a NOT = 'x'", "after NOT (or NOT before the field"),
            ("ąę = x", "at position 6"),
        ] {
            let e = parse(input, Fields::Metrics).expect_err(input);
            assert!(e.contains(expected), "{input:?}: {e}");
        }
    }

    #[test]
    fn never_panics_on_any_prefix() {
        let input = "(a = 'x\\'' OR NOT b IN ('1', '2') case_sensitive) AND c BETWEEN -1.5e3 AND 2 AND d IS NOT EMPTY";
        for end in 0..=input.len() {
            if input.is_char_boundary(end) {
                let _ = parse(&input[..end], Fields::Dimensions);
            }
        }
        assert!(parse(input, Fields::Dimensions).is_ok());
    }

    #[test]
    fn regular_expressions_keep_their_backslashes() {
        assert_eq!(
            rest(r"pagePath REGEXP '^/p/\d+\.html$'")["filter"]["stringFilter"]["value"],
            r"^/p/\d+\.html$"
        );
        assert_eq!(
            rest(r"a = 'back\\slash \'quoted\''")["filter"]["stringFilter"]["value"],
            r"back\slash 'quoted'"
        );
    }

    #[test]
    fn not_before_an_operator_negates_it() {
        assert_eq!(
            rest("pagePath NOT CONTAINS '/blog'"),
            json!({"notExpression": {"filter": {"fieldName": "pagePath", "stringFilter": {"matchType": "CONTAINS", "value": "/blog"}}}})
        );
        assert_eq!(
            rest("sessions NOT BETWEEN 1 AND 2")["notExpression"]["filter"]["betweenFilter"]["toValue"]
                ["int64Value"],
            "2"
        );
    }

    #[test]
    fn numbers_are_text_in_dimension_filters() {
        let dims = serde_json::to_value(
            parse("hour = 9 AND year != 2025", Fields::Dimensions).expect("parses"),
        )
        .expect("serialises");
        assert_eq!(
            dims,
            json!({"andGroup": {"expressions": [
                {"filter": {"fieldName": "hour", "stringFilter": {"matchType": "EXACT", "value": "9"}}},
                {"notExpression": {"filter": {"fieldName": "year", "stringFilter": {"matchType": "EXACT", "value": "2025"}}}}
            ]}})
        );
        assert_eq!(
            rest("sessions = 9")["filter"]["numericFilter"]["operation"],
            "EQUAL"
        );
    }

    #[test]
    fn deep_or_long_input_is_refused_not_a_crash() {
        for input in [
            "NOT ".repeat(100_000) + "a = 'x'",
            "(".repeat(100_000),
            format!("{}a = 'x'{}", "(".repeat(33), ")".repeat(33)),
        ] {
            let e = parse(&input, Fields::Dimensions).expect_err("refused");
            assert!(
                e.contains("at most 10000") || e.contains("more than 32 deep"),
                "{e}"
            );
        }
        let fine = format!("{}a = 'x'{}", "(".repeat(32), ")".repeat(32));
        assert!(parse(&fine, Fields::Dimensions).is_ok());
        let wide = vec!["a = 'x'"; 500].join(" OR ");
        assert!(
            parse(&wide, Fields::Dimensions).is_ok(),
            "a flat list is not deep"
        );
    }
}
