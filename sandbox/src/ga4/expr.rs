//! Metric expressions (`Metric.expression`), e.g. `eventCount/sessions` or
//! `(purchaseRevenue - advertiserAdCost) / advertiserAdCost`: numbers, metric names,
//! `+ - * /` and parentheses. Division by zero yields 0 as in GA4.

use crate::google::rpc::ApiError;

const MAX_DEPTH: usize = 32;

/// A parsed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// Literal.
    Num(f64),
    /// Metric name.
    Var(String),
    /// Unary minus.
    Neg(Box<Expr>),
    /// Binary operation.
    Bin(char, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(char),
}

fn tokenize(text: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if "+-*/()".contains(c) {
            out.push(Tok::Op(c));
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            out.push(Tok::Num(s.parse().ok()?));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            return None;
        }
    }
    Some(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn expr(&mut self, depth: usize) -> Option<Expr> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut left = self.term(depth)?;
        while let Some(Tok::Op(op @ ('+' | '-'))) = self.peek().cloned() {
            self.pos += 1;
            let right = self.term(depth)?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
        Some(left)
    }

    fn term(&mut self, depth: usize) -> Option<Expr> {
        let mut left = self.factor(depth)?;
        while let Some(Tok::Op(op @ ('*' | '/'))) = self.peek().cloned() {
            self.pos += 1;
            let right = self.factor(depth)?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
        Some(left)
    }

    fn factor(&mut self, depth: usize) -> Option<Expr> {
        let tok = self.peek()?.clone();
        self.pos += 1;
        match tok {
            Tok::Num(n) => Some(Expr::Num(n)),
            Tok::Ident(name) => Some(Expr::Var(name)),
            Tok::Op('-') => Some(Expr::Neg(Box::new(self.factor(depth + 1)?))),
            Tok::Op('(') => {
                let inner = self.expr(depth + 1)?;
                if self.peek() == Some(&Tok::Op(')')) {
                    self.pos += 1;
                    Some(inner)
                } else {
                    None
                }
            }
            Tok::Op(_) => None,
        }
    }
}

impl Expr {
    /// Parses an expression.
    pub fn parse(text: &str) -> Result<Expr, ApiError> {
        let invalid =
            || ApiError::invalid_argument(format!("Invalid metric expression: \"{text}\"."));
        let toks = tokenize(text).ok_or_else(invalid)?;
        let mut parser = Parser { toks, pos: 0 };
        let expr = parser.expr(0).ok_or_else(invalid)?;
        if parser.pos != parser.toks.len() {
            return Err(invalid());
        }
        Ok(expr)
    }

    /// Metric names used.
    pub fn vars(&self, out: &mut Vec<String>) {
        match self {
            Self::Num(_) => {}
            Self::Var(v) => out.push(v.clone()),
            Self::Neg(e) => e.vars(out),
            Self::Bin(_, a, b) => {
                a.vars(out);
                b.vars(out);
            }
        }
    }

    /// Evaluates with a variable lookup.
    pub fn eval(&self, var: &dyn Fn(&str) -> f64) -> f64 {
        match self {
            Self::Num(n) => *n,
            Self::Var(v) => var(v),
            Self::Neg(e) => -e.eval(var),
            Self::Bin(op, a, b) => {
                let (a, b) = (a.eval(var), b.eval(var));
                match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    _ => super::catalog::div(a, b),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_evaluates() {
        let e = Expr::parse("(purchaseRevenue - advertiserAdCost) / advertiserAdCost * 2").unwrap();
        let v = e.eval(&|name| {
            if name == "purchaseRevenue" {
                300.0
            } else {
                100.0
            }
        });
        assert_eq!(v, 4.0);
        let mut vars = Vec::new();
        e.vars(&mut vars);
        assert_eq!(
            vars,
            vec!["purchaseRevenue", "advertiserAdCost", "advertiserAdCost"]
        );
        assert_eq!(Expr::parse("a/0").unwrap().eval(&|_| 1.0), 0.0);
        assert_eq!(
            Expr::parse("-customEvent:points").unwrap().eval(&|_| 2.0),
            -2.0
        );
        for bad in ["", "a +", "(a", "a b", "a $ b", "1..2"] {
            assert!(Expr::parse(bad).is_err(), "{bad}");
        }
        let deep = "(".repeat(100) + "a" + &")".repeat(100);
        assert!(Expr::parse(&deep).is_err());
    }
}
