//! Lexer and parser of the Google Ads Query Language (and of the GoogleAdsFieldService
//! dialect, which is the same grammar without FROM):
//!
//! ```text
//! SELECT f1, f2 [FROM resource] [WHERE cond AND cond …] [ORDER BY f [ASC|DESC], …]
//!   [LIMIT n] [PARAMETERS name = value, …]
//! cond := field op value
//! op   := = != > >= < <= | [NOT] IN (list) | [NOT] LIKE str | [NOT] REGEXP_MATCH str
//!       | CONTAINS ANY|ALL|NONE (list) | IS [NOT] NULL | DURING literal | BETWEEN v AND v
//! ```
//!
//! Keywords are case-insensitive; strings take single or double quotes. The grammar is flat
//! (no parentheses except value lists, no OR), so parsing is a single loop over tokens: no
//! recursion, and the work is linear in the (capped) query length. Errors carry Google's
//! `QueryError` code, a message naming the offending text and its character position.

/// Longest query accepted (characters). Google's own cap is larger; this bounds the work.
pub const MAX_QUERY_CHARS: usize = 100_000;
/// Most values an IN / CONTAINS list may hold (Google's documented limit).
pub const MAX_LIST_VALUES: usize = 20_000;

/// A parse error: Google's `QueryError` enum name, a message, and the offending text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// `QueryError` enum name, e.g. `UNEXPECTED_END_OF_QUERY`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// The offending text, when there is one.
    pub trigger: Option<String>,
}

impl ParseError {
    fn new(code: &'static str, message: impl Into<String>, trigger: Option<String>) -> Self {
        Self {
            code,
            message: message.into(),
            trigger,
        }
    }
}

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A word: keyword, field name, resource, enum constant, date-range literal.
    Word(String),
    /// A quoted string (unescaped).
    Str(String),
    /// A number, kept as text.
    Num(String),
    Comma,
    LParen,
    RParen,
    /// `=`, `!=`, `>`, `>=`, `<`, `<=`.
    Cmp(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Character offset (0-based) in the query.
    pos: usize,
}

/// A literal value in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// Quoted string.
    Str(String),
    /// Unquoted number (text).
    Num(String),
    /// Unquoted word (enum constant, TRUE/FALSE, date-range literal).
    Word(String),
}

impl Lit {
    /// The literal's text.
    pub fn text(&self) -> &str {
        match self {
            Lit::Str(s) | Lit::Num(s) | Lit::Word(s) => s,
        }
    }

    fn kind(&self) -> u8 {
        match self {
            Lit::Str(_) => 0,
            Lit::Num(_) => 1,
            Lit::Word(_) => 2,
        }
    }
}

/// A condition operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `IN`.
    In,
    /// `NOT IN`.
    NotIn,
    /// `LIKE`.
    Like,
    /// `NOT LIKE`.
    NotLike,
    /// `REGEXP_MATCH`.
    Regexp,
    /// `NOT REGEXP_MATCH`.
    NotRegexp,
    /// `CONTAINS ANY`.
    ContainsAny,
    /// `CONTAINS ALL`.
    ContainsAll,
    /// `CONTAINS NONE`.
    ContainsNone,
    /// `IS NULL`.
    IsNull,
    /// `IS NOT NULL`.
    IsNotNull,
    /// `DURING`.
    During,
    /// `BETWEEN … AND …`.
    Between,
}

impl Op {
    /// The operator as written in GAQL.
    pub fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::Like => "LIKE",
            Op::NotLike => "NOT LIKE",
            Op::Regexp => "REGEXP_MATCH",
            Op::NotRegexp => "NOT REGEXP_MATCH",
            Op::ContainsAny => "CONTAINS ANY",
            Op::ContainsAll => "CONTAINS ALL",
            Op::ContainsNone => "CONTAINS NONE",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
            Op::During => "DURING",
            Op::Between => "BETWEEN",
        }
    }
}

/// The right-hand side of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    /// No value (`IS NULL`).
    None,
    /// One literal.
    One(Lit),
    /// A parenthesised list.
    List(Vec<Lit>),
    /// `BETWEEN a AND b`.
    Range(Lit, Lit),
}

/// One WHERE condition.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCond {
    /// Field name as written.
    pub field: String,
    /// Position of the field.
    pub pos: usize,
    /// Operator.
    pub op: Op,
    /// Value(s).
    pub rhs: Rhs,
}

/// One ORDER BY item.
#[derive(Debug, Clone, PartialEq)]
pub struct RawOrder {
    /// Field name.
    pub field: String,
    /// Position.
    pub pos: usize,
    /// `DESC`.
    pub desc: bool,
}

/// A parsed query (names not yet resolved).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawQuery {
    /// Selected field names with positions.
    pub select: Vec<(String, usize)>,
    /// FROM resource with position.
    pub from: Option<(String, usize)>,
    /// WHERE conditions (AND-ed).
    pub conds: Vec<RawCond>,
    /// ORDER BY items.
    pub order: Vec<RawOrder>,
    /// LIMIT.
    pub limit: Option<u64>,
    /// PARAMETERS (name, value) pairs.
    pub params: Vec<(String, Lit)>,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Splits a query into tokens.
fn lex(query: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = query.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            let quote = c;
            let mut text = String::new();
            i += 1;
            loop {
                let Some(&ch) = chars.get(i) else {
                    return Err(ParseError::new(
                        "STRING_NOT_TERMINATED",
                        format!(
                            "Error in query: the string starting at position {pos} is not terminated."
                        ),
                        None,
                    ));
                };
                if ch == '\n' || ch == '\r' {
                    return Err(ParseError::new(
                        "PROHIBITED_NEWLINE_IN_STRING",
                        format!(
                            "Error in query: the string starting at position {pos} contains a newline."
                        ),
                        None,
                    ));
                }
                if ch == '\\' {
                    match chars.get(i + 1) {
                        Some(&e) if e == '\\' || e == '\'' || e == '"' => {
                            text.push(e);
                            i += 2;
                        }
                        // Other escapes (e.g. `\d` in a regular expression) are kept verbatim.
                        Some(&e) if e != '\n' && e != '\r' => {
                            text.push('\\');
                            text.push(e);
                            i += 2;
                        }
                        _ => {
                            return Err(ParseError::new(
                                "BAD_ESCAPE_SEQUENCE",
                                format!("Error in query: invalid escape sequence at position {i}."),
                                None,
                            ));
                        }
                    }
                    continue;
                }
                i += 1;
                if ch == quote {
                    break;
                }
                text.push(ch);
            }
            out.push(Token {
                tok: Tok::Str(text),
                pos,
            });
            continue;
        }
        if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && is_word_char(chars[i]) {
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                return Err(ParseError::new(
                    "BAD_NUMBER",
                    format!("Error in query: cannot parse number '{text}' at position {start}."),
                    Some(text),
                ));
            }
            let text: String = chars[start..i].iter().collect();
            if text.matches('.').count() > 1 || text.ends_with('.') {
                return Err(ParseError::new(
                    "BAD_NUMBER",
                    format!("Error in query: cannot parse number '{text}' at position {start}."),
                    Some(text),
                ));
            }
            out.push(Token {
                tok: Tok::Num(text),
                pos,
            });
            continue;
        }
        if is_word_start(c) {
            let start = i;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Word(chars[start..i].iter().collect()),
                pos,
            });
            continue;
        }
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let (tok, len) = match (c, two.as_str()) {
            (_, "!=") => (Tok::Cmp("!="), 2),
            (_, ">=") => (Tok::Cmp(">="), 2),
            (_, "<=") => (Tok::Cmp("<="), 2),
            ('=', _) => (Tok::Cmp("="), 1),
            ('>', _) => (Tok::Cmp(">"), 1),
            ('<', _) => (Tok::Cmp("<"), 1),
            (',', _) => (Tok::Comma, 1),
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            _ if !c.is_ascii() => {
                return Err(ParseError::new(
                    "BAD_SYMBOL",
                    format!("Error in query: unexpected symbol '{c}' at position {pos}."),
                    Some(c.to_string()),
                ));
            }
            _ => {
                let hint = if c == '*' {
                    " GAQL has no wildcard: list the fields to select."
                } else {
                    ""
                };
                return Err(ParseError::new(
                    "UNEXPECTED_INPUT",
                    format!("Error in query: unexpected input '{c}' at position {pos}.{hint}"),
                    Some(c.to_string()),
                ));
            }
        };
        out.push(Token { tok, pos });
        i += len;
    }
    Ok(out)
}

/// Token cursor with Google-style error helpers.
struct Cursor {
    toks: Vec<Token>,
    i: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.i).cloned();
        if t.is_some() {
            self.i += 1;
        }
        t
    }

    /// Whether the next token is the keyword `kw` (case-insensitive).
    fn at_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn end(what: &str) -> ParseError {
        ParseError::new(
            "UNEXPECTED_END_OF_QUERY",
            format!("Error in query: unexpected end of query; expected {what}."),
            None,
        )
    }

    fn unexpected(t: &Token, what: &str) -> ParseError {
        let text = describe(&t.tok);
        ParseError::new(
            "UNEXPECTED_INPUT",
            format!(
                "Error in query: unexpected input {text} at position {}; expected {what}.",
                t.pos
            ),
            Some(text.trim_matches('\'').to_string()),
        )
    }

    fn expect_kw(&mut self, kw: &str, code: &'static str) -> Result<(), ParseError> {
        match self.peek().cloned() {
            None => Err(Self::end(kw)),
            Some(_) if self.eat_kw(kw) => Ok(()),
            Some(t) => {
                let mut e = Self::unexpected(&t, kw);
                e.code = code;
                Err(e)
            }
        }
    }

    /// A field name (a word that is not a clause keyword).
    fn field(&mut self, what: &str) -> Result<(String, usize), ParseError> {
        match self.next() {
            None => Err(Self::end(what)),
            Some(Token {
                tok: Tok::Word(w),
                pos,
            }) if !is_clause_keyword(&w) => Ok((w, pos)),
            Some(t) => Err(Self::unexpected(&t, what)),
        }
    }

    fn literal(&mut self) -> Result<Lit, ParseError> {
        match self.next() {
            None => Err(Self::end("a value")),
            Some(Token {
                tok: Tok::Str(s), ..
            }) => Ok(Lit::Str(s)),
            Some(Token {
                tok: Tok::Num(n), ..
            }) => Ok(Lit::Num(n)),
            Some(Token {
                tok: Tok::Word(w),
                pos,
            }) => {
                if is_clause_keyword(&w) {
                    Err(Self::unexpected(
                        &Token {
                            tok: Tok::Word(w),
                            pos,
                        },
                        "a value",
                    ))
                } else {
                    Ok(Lit::Word(w))
                }
            }
            Some(t) if t.tok == Tok::LParen => Err(ParseError::new(
                "EXPECTED_SINGLE_VALUE",
                format!(
                    "Error in WHERE clause: the operator at position {} takes a single value, not a list.",
                    t.pos
                ),
                None,
            )),
            Some(t) => Err(Self::unexpected(&t, "a value")),
        }
    }

    fn list(&mut self) -> Result<Vec<Lit>, ParseError> {
        match self.next() {
            None => return Err(Self::end("a parenthesised list")),
            Some(t) if t.tok == Tok::LParen => {}
            Some(t) => {
                return Err(ParseError::new(
                    "EXPECTED_LIST",
                    format!(
                        "Error in WHERE clause: expected a parenthesised list at position {}.",
                        t.pos
                    ),
                    Some(describe(&t.tok)),
                ));
            }
        }
        if matches!(self.peek(), Some(t) if t.tok == Tok::RParen) {
            return Err(ParseError::new(
                "PROHIBITED_EMPTY_LIST_IN_CONDITION",
                "Error in WHERE clause: a condition has an empty list.",
                None,
            ));
        }
        let mut values = Vec::new();
        loop {
            let v = self.literal()?;
            if values.first().is_some_and(|f: &Lit| f.kind() != v.kind()) {
                return Err(ParseError::new(
                    "PROHIBITED_VALUE_COMBINATION_IN_LIST",
                    "Error in WHERE clause: a list mixes values of different types.",
                    Some(v.text().to_string()),
                ));
            }
            values.push(v);
            if values.len() > MAX_LIST_VALUES {
                return Err(ParseError::new(
                    "FILTER_HAS_TOO_MANY_VALUES",
                    format!(
                        "Error in WHERE clause: a list may hold at most {MAX_LIST_VALUES} values."
                    ),
                    None,
                ));
            }
            match self.next() {
                None => return Err(Self::end("',' or ')'")),
                Some(t) if t.tok == Tok::Comma => continue,
                Some(t) if t.tok == Tok::RParen => break,
                Some(t) => return Err(Self::unexpected(&t, "',' or ')'")),
            }
        }
        Ok(values)
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Num(n) => format!("'{n}'"),
        Tok::Comma => "','".into(),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Cmp(c) => format!("'{c}'"),
    }
}

/// Words that start a clause (never a field name or a value).
fn is_clause_keyword(w: &str) -> bool {
    [
        "SELECT",
        "FROM",
        "WHERE",
        "ORDER",
        "LIMIT",
        "PARAMETERS",
        "AND",
        "OR",
    ]
    .iter()
    .any(|k| w.eq_ignore_ascii_case(k))
}

/// Parses a query. `allow_from` is false for the GoogleAdsFieldService dialect.
pub fn parse(query: &str, allow_from: bool) -> Result<RawQuery, ParseError> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(ParseError::new(
            "QUERY_ERROR",
            format!("Error in query: the query is longer than {MAX_QUERY_CHARS} characters."),
            None,
        ));
    }
    let toks = lex(query)?;
    let mut c = Cursor { toks, i: 0 };
    let mut q = RawQuery::default();
    match c.peek().cloned() {
        None => return Err(Cursor::end("SELECT")),
        Some(_) if c.eat_kw("SELECT") => {}
        Some(t) => {
            let mut e = Cursor::unexpected(&t, "SELECT");
            e.code = "EXPECTED_SELECT";
            return Err(e);
        }
    }
    loop {
        q.select.push(c.field("a field name in the SELECT clause")?);
        if matches!(c.peek(), Some(t) if t.tok == Tok::Comma) {
            c.i += 1;
            continue;
        }
        break;
    }
    if c.at_kw("FROM") {
        let from_pos = c.peek().map(|t| t.pos).unwrap_or(0);
        c.i += 1;
        if !allow_from {
            return Err(ParseError::new(
                "UNEXPECTED_FROM_CLAUSE",
                format!(
                    "Error in query: this service does not take a FROM clause (position {from_pos})."
                ),
                None,
            ));
        }
        q.from = Some(c.field("a resource name after FROM")?);
    }
    if c.eat_kw("WHERE") {
        loop {
            q.conds.push(parse_cond(&mut c)?);
            if c.eat_kw("AND") {
                continue;
            }
            if let Some(t) = c.peek()
                && matches!(&t.tok, Tok::Word(w) if w.eq_ignore_ascii_case("OR"))
            {
                return Err(ParseError::new(
                    "UNEXPECTED_INPUT",
                    format!(
                        "Error in WHERE clause: OR is not supported (position {}); combine conditions with AND, or use IN.",
                        t.pos
                    ),
                    Some("OR".into()),
                ));
            }
            break;
        }
    }
    if c.eat_kw("ORDER") {
        c.expect_kw("BY", "EXPECTED_BY")?;
        loop {
            let (field, pos) = c.field("a field name in the ORDER BY clause")?;
            let desc = if c.eat_kw("DESC") {
                true
            } else {
                c.eat_kw("ASC");
                false
            };
            q.order.push(RawOrder { field, pos, desc });
            if matches!(c.peek(), Some(t) if t.tok == Tok::Comma) {
                c.i += 1;
                continue;
            }
            break;
        }
    }
    if c.eat_kw("LIMIT") {
        match c.next() {
            None => return Err(Cursor::end("a number after LIMIT")),
            Some(Token {
                tok: Tok::Num(n), ..
            }) => {
                let value: u64 = match n.parse::<i64>() {
                    Ok(v) if v <= 0 => {
                        return Err(ParseError::new(
                            "LIMIT_VALUE_TOO_LOW",
                            format!("Error in LIMIT clause: the limit must be positive, got {n}."),
                            Some(n),
                        ));
                    }
                    Ok(v) => v.unsigned_abs(),
                    Err(_) => {
                        return Err(ParseError::new(
                            "BAD_LIMIT_VALUE",
                            format!("Error in LIMIT clause: '{n}' is not a valid limit."),
                            Some(n),
                        ));
                    }
                };
                q.limit = Some(value);
            }
            Some(t) => {
                return Err(ParseError::new(
                    "BAD_LIMIT_VALUE",
                    format!(
                        "Error in LIMIT clause: {} is not a valid limit.",
                        describe(&t.tok)
                    ),
                    Some(describe(&t.tok).trim_matches('\'').to_string()),
                ));
            }
        }
    }
    if c.eat_kw("PARAMETERS") {
        loop {
            let (name, _) = c.field("a parameter name")?;
            match c.next() {
                None => return Err(Cursor::end("'='")),
                Some(t) if t.tok == Tok::Cmp("=") => {}
                Some(t) => return Err(Cursor::unexpected(&t, "'='")),
            }
            let value = c.literal()?;
            q.params.push((name, value));
            if matches!(c.peek(), Some(t) if t.tok == Tok::Comma) {
                c.i += 1;
                continue;
            }
            break;
        }
    }
    if let Some(t) = c.peek() {
        return Err(Cursor::unexpected(t, "the end of the query"));
    }
    Ok(q)
}

fn parse_cond(c: &mut Cursor) -> Result<RawCond, ParseError> {
    let (field, pos) = c.field("a field name in the WHERE clause")?;
    let Some(t) = c.next() else {
        return Err(Cursor::end("an operator"));
    };
    let bad_op = |t: &Token| {
        ParseError::new(
            "BAD_OPERATOR",
            format!(
                "Error in WHERE clause: invalid operator {} at position {}.",
                describe(&t.tok),
                t.pos
            ),
            Some(describe(&t.tok).trim_matches('\'').to_string()),
        )
    };
    let word = match &t.tok {
        Tok::Cmp(op) => {
            let op = match *op {
                "=" => Op::Eq,
                "!=" => Op::Ne,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "<" => Op::Lt,
                _ => Op::Le,
            };
            let v = c.literal()?;
            return Ok(RawCond {
                field,
                pos,
                op,
                rhs: Rhs::One(v),
            });
        }
        Tok::Word(w) => w.to_ascii_uppercase(),
        _ => return Err(bad_op(&t)),
    };
    let (op, rhs) = match word.as_str() {
        "IN" => (Op::In, Rhs::List(c.list()?)),
        "LIKE" => (Op::Like, Rhs::One(c.literal()?)),
        "REGEXP_MATCH" => (Op::Regexp, Rhs::One(c.literal()?)),
        "DURING" => (Op::During, Rhs::One(c.literal()?)),
        "NOT" => {
            let Some(n) = c.next() else {
                return Err(Cursor::end("IN, LIKE or REGEXP_MATCH after NOT"));
            };
            match &n.tok {
                Tok::Word(w) if w.eq_ignore_ascii_case("IN") => (Op::NotIn, Rhs::List(c.list()?)),
                Tok::Word(w) if w.eq_ignore_ascii_case("LIKE") => {
                    (Op::NotLike, Rhs::One(c.literal()?))
                }
                Tok::Word(w) if w.eq_ignore_ascii_case("REGEXP_MATCH") => {
                    (Op::NotRegexp, Rhs::One(c.literal()?))
                }
                _ => return Err(bad_op(&n)),
            }
        }
        "CONTAINS" => {
            let Some(n) = c.next() else {
                return Err(Cursor::end("ANY, ALL or NONE after CONTAINS"));
            };
            let op = match &n.tok {
                Tok::Word(w) if w.eq_ignore_ascii_case("ANY") => Op::ContainsAny,
                Tok::Word(w) if w.eq_ignore_ascii_case("ALL") => Op::ContainsAll,
                Tok::Word(w) if w.eq_ignore_ascii_case("NONE") => Op::ContainsNone,
                _ => return Err(bad_op(&n)),
            };
            (op, Rhs::List(c.list()?))
        }
        "IS" => {
            let not = c.eat_kw("NOT");
            match c.next() {
                Some(Token {
                    tok: Tok::Word(w), ..
                }) if w.eq_ignore_ascii_case("NULL") => {}
                Some(n) => return Err(Cursor::unexpected(&n, "NULL")),
                None => return Err(Cursor::end("NULL")),
            }
            (if not { Op::IsNotNull } else { Op::IsNull }, Rhs::None)
        }
        "BETWEEN" => {
            let a = match c.peek() {
                None => return Err(Cursor::end("a value after BETWEEN")),
                Some(t) if matches!(&t.tok, Tok::Word(w) if w.eq_ignore_ascii_case("AND")) => {
                    return Err(ParseError::new(
                        "EXPECTED_VALUE_WITH_BETWEEN_OPERATOR",
                        format!(
                            "Error in WHERE clause: BETWEEN needs two values (position {}).",
                            t.pos
                        ),
                        None,
                    ));
                }
                Some(_) => c.literal()?,
            };
            match c.peek().cloned() {
                None => return Err(Cursor::end("AND after the first BETWEEN value")),
                Some(_) if c.eat_kw("AND") => {}
                Some(t) => {
                    let mut e = Cursor::unexpected(&t, "AND");
                    e.code = "EXPECTED_AND";
                    return Err(e);
                }
            }
            let b = match c.peek() {
                None => {
                    return Err(ParseError::new(
                        "EXPECTED_VALUE_WITH_BETWEEN_OPERATOR",
                        "Error in WHERE clause: BETWEEN needs two values.",
                        None,
                    ));
                }
                Some(_) => c.literal()?,
            };
            (Op::Between, Rhs::Range(a, b))
        }
        _ => return Err(bad_op(&t)),
    };
    Ok(RawCond {
        field,
        pos,
        op,
        rhs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(q: &str) -> ParseError {
        parse(q, true).unwrap_err()
    }

    #[test]
    fn full_query_parses() {
        let q = parse(
            "select campaign.id, metrics.clicks FROM campaign WHERE campaign.status IN ('ENABLED', \"PAUSED\") \
             AND segments.date DURING LAST_7_DAYS AND metrics.clicks >= 10 AND campaign.name NOT LIKE '%x%' \
             AND segments.date BETWEEN '2026-01-01' AND '20260131' AND ad_group_ad.ad.final_urls CONTAINS ANY ('a') \
             AND campaign.end_date IS NOT NULL ORDER BY metrics.clicks DESC, campaign.id LIMIT 5 \
             PARAMETERS include_drafts = true, omit_unselected_resource_names=true",
            true,
        )
        .unwrap();
        assert_eq!(q.select.len(), 2);
        assert_eq!(q.from.as_ref().unwrap().0, "campaign");
        assert_eq!(q.conds.len(), 7);
        assert_eq!(q.conds[0].op, Op::In);
        assert_eq!(
            q.conds[0].rhs,
            Rhs::List(vec![Lit::Str("ENABLED".into()), Lit::Str("PAUSED".into())])
        );
        assert_eq!(q.conds[1].rhs, Rhs::One(Lit::Word("LAST_7_DAYS".into())));
        assert_eq!(q.conds[3].op, Op::NotLike);
        assert_eq!(q.conds[4].op, Op::Between);
        assert_eq!(q.conds[5].op, Op::ContainsAny);
        assert_eq!(q.conds[6].op, Op::IsNotNull);
        assert!(q.order[0].desc && !q.order[1].desc);
        assert_eq!(q.limit, Some(5));
        assert_eq!(q.params.len(), 2);
    }

    #[test]
    fn escapes_and_quotes() {
        let q = parse(
            r#"SELECT a.b FROM c WHERE a.b = 'it\'s' AND a.c = "say \"hi\"" AND a.d REGEXP_MATCH '\d+'"#,
            true,
        )
        .unwrap();
        assert_eq!(q.conds[0].rhs, Rhs::One(Lit::Str("it's".into())));
        assert_eq!(q.conds[1].rhs, Rhs::One(Lit::Str("say \"hi\"".into())));
        assert_eq!(q.conds[2].rhs, Rhs::One(Lit::Str("\\d+".into())));
    }

    #[test]
    fn error_codes() {
        assert_eq!(err("").code, "UNEXPECTED_END_OF_QUERY");
        assert_eq!(err("SELECT").code, "UNEXPECTED_END_OF_QUERY");
        assert_eq!(
            err("SELECT campaign.id FROM").code,
            "UNEXPECTED_END_OF_QUERY"
        );
        assert_eq!(
            err("SELECT campaign.id FROM campaign WHERE campaign.id =").code,
            "UNEXPECTED_END_OF_QUERY"
        );
        assert_eq!(err("FETCH campaign.id").code, "EXPECTED_SELECT");
        assert_eq!(err("SELECT * FROM campaign").code, "UNEXPECTED_INPUT");
        assert_eq!(
            err("SELECT a.b FROM c WHERE a.b = 'x").code,
            "STRING_NOT_TERMINATED"
        );
        assert_eq!(
            err("SELECT a.b FROM c WHERE a.b = 'x\ny'").code,
            "PROHIBITED_NEWLINE_IN_STRING"
        );
        assert_eq!(err("SELECT a.b FROM c WHERE a.b = 12x").code, "BAD_NUMBER");
        assert_eq!(
            err("SELECT a.b FROM c WHERE a.b ~ 1").code,
            "UNEXPECTED_INPUT"
        );
        assert_eq!(
            err("SELECT a.b FROM c WHERE a.b SOUNDS 1").code,
            "BAD_OPERATOR"
        );
        assert_eq!(
            err("SELECT a.b FROM c WHERE a.b = 1 OR a.b = 2").code,
            "UNEXPECTED_INPUT"
        );
        assert_eq!(
            err("SELECT a.b FROM c WHERE a.b IN ()").code,
            "PROHIBITED_EMPTY_LIST_IN_CONDITION"
        );
        assert_eq!(
            err("SELECT a.b FROM c WHERE a.b IN 1").code,
            "EXPECTED_LIST"
        );
        assert_eq!(
            err("SELECT a.b FROM c WHERE a.b = (1)").code,
            "EXPECTED_SINGLE_VALUE"
        );
        assert_eq!(
            err("SELECT a.b FROM c WHERE a.b IN (1, 'x')").code,
            "PROHIBITED_VALUE_COMBINATION_IN_LIST"
        );
        assert_eq!(
            err("SELECT a.b FROM c WHERE a.b BETWEEN 1 2").code,
            "EXPECTED_AND"
        );
        assert_eq!(
            err("SELECT a.b FROM c WHERE a.b BETWEEN AND 2").code,
            "EXPECTED_VALUE_WITH_BETWEEN_OPERATOR"
        );
        assert_eq!(err("SELECT a.b FROM c ORDER a.b").code, "EXPECTED_BY");
        assert_eq!(err("SELECT a.b FROM c LIMIT 0").code, "LIMIT_VALUE_TOO_LOW");
        assert_eq!(err("SELECT a.b FROM c LIMIT x").code, "BAD_LIMIT_VALUE");
        assert_eq!(
            err("SELECT a.b FROM c LIMIT 99999999999999999999").code,
            "BAD_LIMIT_VALUE"
        );
        assert_eq!(
            err("SELECT a.b FROM c LIMIT 5 extra").code,
            "UNEXPECTED_INPUT"
        );
        assert_eq!(
            err("SELECT a.b FROM c WHERE a.b = 'é' AND é").code,
            "BAD_SYMBOL"
        );
        assert_eq!(
            parse("SELECT name FROM x", false).unwrap_err().code,
            "UNEXPECTED_FROM_CLAUSE"
        );
    }

    #[test]
    fn positions_are_reported() {
        let e = err("SELECT campaign.id FROM campaign WHERE campaign.id = 1 ORDER campaign.id");
        assert!(e.message.contains("position 61"), "{}", e.message);
    }

    #[test]
    fn adversarial_input_is_bounded() {
        // Deep nesting is not part of the grammar: it fails fast instead of recursing.
        let nested = format!(
            "SELECT a.b FROM c WHERE a.b IN {}1{}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        assert!(parse(&nested, true).is_err());
        let huge = format!("SELECT {}", "a.b, ".repeat(30_000));
        assert_eq!(parse(&huge, true).unwrap_err().code, "QUERY_ERROR");
        let many = format!(
            "SELECT a.b FROM c WHERE a.b IN ({})",
            vec!["1"; 20_001].join(",")
        );
        assert_eq!(
            parse(&many, true).unwrap_err().code,
            "FILTER_HAS_TOO_MANY_VALUES"
        );
        for junk in [
            "\u{0}",
            "'",
            "\"",
            "((((",
            "SELECT ,",
            "SELECT a.b,",
            "SELECT a.b FROM c WHERE",
            "-",
            "SELECT a.b LIMIT -1",
        ] {
            assert!(parse(junk, true).is_err(), "{junk:?}");
        }
    }
}
