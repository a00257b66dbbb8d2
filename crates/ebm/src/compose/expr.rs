//! The expression language:
//!
//! ```text
//! or      := and ('|' and)*
//! and     := unary ('&' unary)*
//! unary   := '!' unary | number '*' unary | primary
//! primary := '(' or ')' | NAME '=' value
//! value   := NUMBER | NAME | '(' NUMBER (',' NUMBER)* ')'
//! ```
//!
//! Precedence `!` > `&` > `|`. Examples: `pos=(0.3,0.7) & color=red`,
//! `(pos=(0.2,0.8) & color=blue) | (pos=(0.8,0.2) & color=green)`,
//! `shape=square & !color=red`, `0.5*size=0.15 & shape=circle`.

use std::fmt;

/// How deep `!`, weights and parentheses may nest (far beyond any real
/// expression; deeper input would exhaust the stack).
pub const MAX_NESTING: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Number(f64),
    Name(String),
    Tuple(Vec<f64>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `concept=value`; `at` is the byte offset of the concept name.
    Atom {
        concept: String,
        value: Value,
        at: usize,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    /// `!e`; `at` is the offset of the `!`.
    Not {
        inner: Box<Expr>,
        at: usize,
    },
    Weighted {
        weight: f64,
        inner: Box<Expr>,
    },
}

/// A parse (or resolution) error at a byte offset of the expression.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub message: String,
    pub position: usize,
    pub expression: String,
}

impl fmt::Display for ParseError {
    /// The message, then the expression with a caret under the position.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let column = self.expression[..self.position.min(self.expression.len())].chars().count();
        write!(f, "{}\n  {}\n  {}^", self.message, self.expression, " ".repeat(column))
    }
}

impl std::error::Error for ParseError {}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Name(String),
    Number(f64),
    Symbol(char),
    End,
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<(Token, usize)>,
    next: usize,
    /// Current nesting depth (see [`MAX_NESTING`]).
    depth: usize,
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ParseError> {
    let error = |message: String, position| ParseError {
        message,
        position,
        expression: text.to_string(),
    };
    let mut tokens = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if "()&|!=,*".contains(c) {
            tokens.push((Token::Symbol(c), at));
            i += 1;
        } else if c.is_ascii_digit() || c == '.' || c == '-' || c == '+' {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].1.is_ascii_digit()
                    || ".eE".contains(chars[i].1)
                    || ("+-".contains(chars[i].1) && "eE".contains(chars[i - 1].1)))
            {
                i += 1;
            }
            let end = chars.get(i).map_or(text.len(), |c| c.0);
            let literal = &text[at..end];
            let number = literal
                .parse::<f64>()
                .map_err(|_| error(format!("'{literal}' is not a number"), chars[start].0))?;
            tokens.push((Token::Number(number), at));
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].1.is_alphanumeric() || chars[i].1 == '_' || chars[i].1 == '-') {
                i += 1;
            }
            let end = chars.get(i).map_or(text.len(), |c| c.0);
            tokens.push((Token::Name(text[at..end].to_string()), at));
        } else {
            return Err(error(format!("unexpected character '{c}'"), at));
        }
    }
    tokens.push((Token::End, text.len()));
    Ok(tokens)
}

impl Parser<'_> {
    fn peek(&self) -> &(Token, usize) {
        &self.tokens[self.next]
    }

    fn bump(&mut self) -> (Token, usize) {
        let token = self.tokens[self.next].clone();
        if self.next + 1 < self.tokens.len() {
            self.next += 1;
        }
        token
    }

    fn error<T>(&self, message: impl Into<String>, position: usize) -> Result<T, ParseError> {
        Err(ParseError {
            message: message.into(),
            position,
            expression: self.text.to_string(),
        })
    }

    fn expect(&mut self, symbol: char, what: &str) -> Result<(), ParseError> {
        match self.bump() {
            (Token::Symbol(c), _) if c == symbol => Ok(()),
            (_, at) => self.error(format!("expected '{symbol}' {what}"), at),
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.and()?];
        while self.peek().0 == Token::Symbol('|') {
            self.bump();
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { Expr::Or(terms) })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.unary()?];
        while self.peek().0 == Token::Symbol('&') {
            self.bump();
            terms.push(self.unary()?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { Expr::And(terms) })
    }

    /// Every nesting (`!`, a weight, a parenthesis) passes through here, so
    /// bounding the depth here keeps the recursion off the stack's end.
    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.depth += 1;
        let result = if self.depth > MAX_NESTING {
            let at = self.peek().1;
            self.error(format!("the expression nests deeper than {MAX_NESTING} levels"), at)
        } else {
            self.unary_term()
        };
        self.depth -= 1;
        result
    }

    fn unary_term(&mut self) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            (Token::Symbol('!'), at) => {
                self.bump();
                Ok(Expr::Not {
                    inner: Box::new(self.unary()?),
                    at,
                })
            }
            (Token::Number(weight), at) => {
                self.bump();
                if self.peek().0 != Token::Symbol('*') {
                    return self.error("a number here must be a weight, as in 0.5*concept=value", at);
                }
                self.bump();
                if !(weight.is_finite() && weight > 0.0) {
                    return self.error("a weight must be a positive number", at);
                }
                Ok(Expr::Weighted {
                    weight,
                    inner: Box::new(self.unary()?),
                })
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.bump() {
            (Token::Symbol('('), _) => {
                let inner = self.or()?;
                self.expect(')', "to close the parenthesis")?;
                Ok(inner)
            }
            (Token::Name(concept), at) => {
                self.expect('=', &format!("after the concept name '{concept}', as in {concept}=value"))?;
                let value = self.value()?;
                Ok(Expr::Atom { concept, value, at })
            }
            (Token::End, at) => self.error("the expression ends where a term (concept=value) was expected", at),
            (_, at) => self.error("expected a term: concept=value, '(' or '!'", at),
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        match self.bump() {
            (Token::Number(n), _) => Ok(Value::Number(n)),
            (Token::Name(name), _) => Ok(Value::Name(name)),
            (Token::Symbol('('), _) => {
                let mut numbers = Vec::new();
                loop {
                    match self.bump() {
                        (Token::Number(n), _) => numbers.push(n),
                        (_, at) => return self.error("expected a number in the tuple", at),
                    }
                    match self.bump() {
                        (Token::Symbol(','), _) => continue,
                        (Token::Symbol(')'), _) => break,
                        (_, at) => return self.error("expected ',' or ')' in the tuple", at),
                    }
                }
                Ok(Value::Tuple(numbers))
            }
            (_, at) => self.error("expected a value: a number, a name, or a tuple like (0.3,0.7)", at),
        }
    }
}

/// Parses an expression, or says where and why it cannot.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let mut parser = Parser {
        text,
        tokens: tokenize(text)?,
        next: 0,
        depth: 0,
    };
    let expr = parser.or()?;
    match parser.peek().clone() {
        (Token::End, _) => Ok(expr),
        (Token::Symbol(')'), at) => parser.error("unmatched ')'", at),
        (_, at) => parser.error("expected '&', '|' or the end of the expression", at),
    }
}
