//! The Graph `fields=` syntax: a comma list of names, each optionally followed by modifiers
//! (`.limit(5)`, `.date_preset(last_7d)`, `.time_range({'since':…})`) and a nested list in
//! braces (`creative{id,name}`, `insights.date_preset(last_7d){spend}`).
//!
//! Parsing is purely syntactic; which names exist is checked per node type by the caller.

use super::error::GraphError;

/// Longest `fields` value accepted (guards the recursive parser).
const MAX_LEN: usize = 8192;
/// Deepest nesting accepted.
const MAX_DEPTH: usize = 8;

/// One selected field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Field or edge name.
    pub name: String,
    /// `.name(arg)` modifiers, in order, with the raw argument text.
    pub modifiers: Vec<(String, String)>,
    /// `{…}` sub-selection, when given.
    pub children: Option<Vec<Field>>,
}

impl Field {
    /// A plain field without modifiers or children.
    pub fn plain(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            modifiers: Vec::new(),
            children: None,
        }
    }

    /// The argument of modifier `name`, if given.
    pub fn modifier(&self, name: &str) -> Option<&str> {
        self.modifiers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Plain fields from a list of names.
pub fn plain(names: &[&str]) -> Vec<Field> {
    names.iter().map(|n| Field::plain(n)).collect()
}

/// Parses a `fields` value; an empty value selects nothing (callers apply defaults).
pub fn parse(text: &str) -> Result<Vec<Field>, GraphError> {
    if text.len() > MAX_LEN {
        return Err(syntax("the fields parameter is too long"));
    }
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let list = p.list(0)?;
    p.ws();
    if p.i < p.s.len() {
        return Err(syntax(&format!(
            "Syntax error \"Expected end of string instead of \"{}\".\" at character {} in: {text}",
            char::from(p.s[p.i]),
            p.i
        )));
    }
    Ok(list)
}

fn syntax(detail: &str) -> GraphError {
    GraphError::invalid_param(detail)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn list(&mut self, depth: usize) -> Result<Vec<Field>, GraphError> {
        if depth > MAX_DEPTH {
            return Err(syntax("fields are nested too deeply"));
        }
        let mut out = Vec::new();
        loop {
            self.ws();
            match self.peek() {
                None | Some(b'}') => break,
                Some(b',') => {
                    // Empty items (`a,,b`, trailing commas) are ignored, as Meta does.
                    self.i += 1;
                    continue;
                }
                _ => {}
            }
            out.push(self.field(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                _ => break,
            }
        }
        Ok(out)
    }

    fn ident(&mut self) -> Result<String, GraphError> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.i += 1;
        }
        if start == self.i {
            let found = self.peek().map(char::from).unwrap_or(' ');
            return Err(syntax(&format!(
                "Syntax error \"Expected a field name instead of \"{found}\".\" at character {}",
                self.i
            )));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn field(&mut self, depth: usize) -> Result<Field, GraphError> {
        let name = self.ident()?;
        let mut modifiers = Vec::new();
        while self.peek() == Some(b'.') {
            self.i += 1;
            let key = self.ident()?;
            if self.peek() != Some(b'(') {
                return Err(syntax(&format!(
                    "Syntax error \"Expected \"(\" after modifier {key}\" at character {}",
                    self.i
                )));
            }
            self.i += 1;
            let arg = self.balanced()?;
            modifiers.push((key, arg));
        }
        self.ws();
        let children = if self.peek() == Some(b'{') {
            self.i += 1;
            let inner = self.list(depth + 1)?;
            self.ws();
            if self.peek() != Some(b'}') {
                return Err(syntax(&format!(
                    "Syntax error \"Expected \"}}\" to close {name}\" at character {}",
                    self.i
                )));
            }
            self.i += 1;
            Some(inner)
        } else {
            None
        };
        Ok(Field {
            name,
            modifiers,
            children,
        })
    }

    /// The text up to the `)` closing a modifier, skipping nested brackets and quotes.
    fn balanced(&mut self) -> Result<String, GraphError> {
        let start = self.i;
        let mut stack: Vec<u8> = Vec::new();
        let mut quote: Option<u8> = None;
        while let Some(c) = self.peek() {
            self.i += 1;
            if let Some(q) = quote {
                if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                b'"' | b'\'' => quote = Some(c),
                b'(' | b'{' | b'[' => stack.push(c),
                b')' if stack.is_empty() => {
                    return Ok(String::from_utf8_lossy(&self.s[start..self.i - 1])
                        .trim()
                        .to_owned());
                }
                b')' | b'}' | b']' => {
                    let open = match c {
                        b')' => b'(',
                        b'}' => b'{',
                        _ => b'[',
                    };
                    if stack.pop() != Some(open) {
                        return Err(syntax("Syntax error: unbalanced brackets in fields"));
                    }
                }
                _ => {}
            }
        }
        Err(syntax(
            "Syntax error: a modifier is missing its closing \")\"",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_and_nested() {
        let f = parse("id, name,creative{id,name},business{name}").unwrap();
        let names: Vec<_> = f.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["id", "name", "creative", "business"]);
        assert_eq!(f[2].children.as_ref().unwrap(), &plain(&["id", "name"]));
        assert_eq!(f[3].children.as_ref().unwrap(), &plain(&["name"]));
        assert!(f[0].children.is_none());
    }

    #[test]
    fn modifiers_with_json_arguments() {
        let f = parse(
            "name,insights.time_range({'since':'2026-10-01','until':'2026-10-07'}).time_increment(1){spend,actions},adsets.limit(2){name}",
        )
        .unwrap();
        assert_eq!(f[1].name, "insights");
        assert_eq!(
            f[1].modifier("time_range"),
            Some("{'since':'2026-10-01','until':'2026-10-07'}")
        );
        assert_eq!(f[1].modifier("time_increment"), Some("1"));
        assert_eq!(f[1].children.as_ref().unwrap().len(), 2);
        assert_eq!(f[2].modifier("limit"), Some("2"));
    }

    #[test]
    fn empty_items_are_ignored_and_garbage_rejected() {
        assert_eq!(parse("id,,name,").unwrap().len(), 2);
        assert!(parse("").unwrap().is_empty());
        assert!(parse("creative{id").is_err());
        assert!(parse("id}").is_err());
        assert!(parse("in-sights").is_err());
        assert!(parse("insights.date_preset(last_7d").is_err());
        assert!(parse(&"a{".repeat(20)).is_err());
    }
}
