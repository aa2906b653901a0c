//! Parser: tokens to an expression tree.
//!
//! ```text
//! query      := or EOF
//! or         := and (OR and)*
//! and        := not (AND not)*
//! not        := NOT not | predicate
//! predicate  := concat [ cmp-op concat
//!                      | [NOT] LIKE concat [ESCAPE concat | {escape 'c'}]
//!                      | [NOT] BETWEEN concat AND concat
//!                      | [NOT] IN ( concat (, concat)* )
//!                      | IS [NOT] NULL ]
//! concat     := additive (|| additive)*
//! additive   := term ((+ | -) term)*
//! term       := unary ((* | /) unary)*
//! unary      := - unary | primary
//! primary    := literal | ? | field | NULL | ( or ) | CURRENT_DATE | CURRENT_TIME
//!             | CURRENT_TIMESTAMP | function ( args ) | { fn function ( args ) }
//!             | { type 'canonical' } | { d|t|ts 'jdbc' }
//! ```
//!
//! AND/OR and `||` chains are kept n-ary so that long chains cost no
//! recursion depth; nesting (parentheses, NOT, unary minus, function
//! arguments) is limited to [`MAX_NESTING`] levels.

use super::lexer::{Op, Tok, Token};
use super::{FieldType, QueryError, QueryErrorKind};

/// Deepest nesting of parentheses, NOT, unary minus and function calls.
pub const MAX_NESTING: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl ArithOp {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
        }
    }
}

/// The scalar functions we implement (FACTS §4 "Supported and tested").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    Ucase,
    Lcase,
    Abs,
    Length,
    Substring,
    Locate,
    Ltrim,
    Rtrim,
    Concat,
    TimestampDiff,
    TimestampAdd,
    CurDate,
    CurTime,
    Now,
}

impl Func {
    fn from_word(upper: &str) -> Option<Func> {
        Some(match upper {
            "UCASE" | "UPPER" => Func::Ucase,
            "LCASE" | "LOWER" => Func::Lcase,
            "ABS" => Func::Abs,
            "LENGTH" => Func::Length,
            "SUBSTRING" => Func::Substring,
            "LOCATE" => Func::Locate,
            "LTRIM" => Func::Ltrim,
            "RTRIM" => Func::Rtrim,
            "CONCAT" => Func::Concat,
            "TIMESTAMPDIFF" => Func::TimestampDiff,
            "TIMESTAMPADD" => Func::TimestampAdd,
            "CURDATE" => Func::CurDate,
            "CURTIME" => Func::CurTime,
            "NOW" => Func::Now,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Func::Ucase => "UCASE",
            Func::Lcase => "LCASE",
            Func::Abs => "ABS",
            Func::Length => "LENGTH",
            Func::Substring => "SUBSTRING",
            Func::Locate => "LOCATE",
            Func::Ltrim => "LTRIM",
            Func::Rtrim => "RTRIM",
            Func::Concat => "CONCAT",
            Func::TimestampDiff => "TIMESTAMPDIFF",
            Func::TimestampAdd => "TIMESTAMPADD",
            Func::CurDate => "CURDATE",
            Func::CurTime => "CURTIME",
            Func::Now => "NOW",
        }
    }
}

/// `SQL_TSI_*` intervals of TIMESTAMPADD / TIMESTAMPDIFF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interval {
    FracSecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Interval {
    fn from_word(upper: &str) -> Option<Interval> {
        Some(match upper {
            "SQL_TSI_FRAC_SECOND" => Interval::FracSecond,
            "SQL_TSI_SECOND" => Interval::Second,
            "SQL_TSI_MINUTE" => Interval::Minute,
            "SQL_TSI_HOUR" => Interval::Hour,
            "SQL_TSI_DAY" => Interval::Day,
            "SQL_TSI_WEEK" => Interval::Week,
            "SQL_TSI_MONTH" => Interval::Month,
            "SQL_TSI_QUARTER" => Interval::Quarter,
            "SQL_TSI_YEAR" => Interval::Year,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Current {
    Date,
    Time,
    Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expr {
    pub kind: Kind,
    /// Character offset of the expression's first token.
    pub pos: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    /// `op_pos`: where the operator is written.
    Cmp {
        op: CmpOp,
        op_pos: usize,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Like {
        negated: bool,
        op_pos: usize,
        expr: Box<Expr>,
        pattern: Box<Expr>,
        escape: Option<Box<Expr>>,
    },
    Between {
        negated: bool,
        op_pos: usize,
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
    },
    In {
        negated: bool,
        op_pos: usize,
        expr: Box<Expr>,
        list: Vec<Expr>,
    },
    IsNull {
        negated: bool,
        op_pos: usize,
        expr: Box<Expr>,
    },
    /// `a || b || c`.
    Concat(Vec<Expr>),
    /// `first (op operand)*`, left-associative.
    Arith {
        first: Box<Expr>,
        rest: Vec<(ArithOp, usize, Expr)>,
    },
    Neg(Box<Expr>),
    /// `name_pos`: where the function's name is written.
    Call {
        func: Func,
        name_pos: usize,
        interval: Option<(Interval, usize)>,
        args: Vec<Expr>,
    },
    Current(Current),
    Attr(String),
    Str(String),
    Long(i64),
    Double(f64),
    Binary(Vec<u8>),
    /// `{type 'canonical'}` (also `{d ..}`, `{t ..}`, `{ts ..}` converted
    /// to canonical form); decoded by the checker.
    Typed(FieldType, String),
    /// The n-th `?` (from 1).
    Param(usize),
    Null,
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

fn syntax(pos: usize, message: impl Into<String>) -> QueryError {
    QueryError::new(QueryErrorKind::Syntax, Some(pos), message)
}

/// Parses a whole WHERE expression.
pub(crate) fn parse(toks: Vec<Token>) -> Result<Expr, QueryError> {
    let mut p = Parser { toks, i: 0, depth: 0 };
    if p.peek() == &Tok::Eof {
        return Err(syntax(p.pos(), "empty query: expected a condition"));
    }
    let e = p.or()?;
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected("AND, OR or the end of the query"));
    }
    Ok(e)
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }

    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.i + k).min(self.toks.len() - 1)].tok
    }

    fn pos(&self) -> usize {
        self.toks[self.i].pos
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Word { upper, .. } if upper == w)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn unexpected(&self, expected: &str) -> QueryError {
        syntax(
            self.pos(),
            format!("expected {expected}, found {}", self.peek().describe()),
        )
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<usize, QueryError> {
        if *self.peek() == tok {
            Ok(self.bump().pos)
        } else {
            Err(self.unexpected(what))
        }
    }

    /// One more level of nesting, opened by the token at `pos`.
    fn enter(&mut self, pos: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(QueryError::new(
                QueryErrorKind::TooComplex,
                Some(pos),
                format!("expression nested more than {MAX_NESTING} levels deep"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let first = self.and()?;
        if !self.is_word("OR") {
            return Ok(first);
        }
        let pos = first.pos;
        let mut items = vec![first];
        while self.eat_word("OR") {
            items.push(self.and()?);
        }
        Ok(Expr {
            kind: Kind::Or(items),
            pos,
        })
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let first = self.not()?;
        if !self.is_word("AND") {
            return Ok(first);
        }
        let pos = first.pos;
        let mut items = vec![first];
        while self.eat_word("AND") {
            items.push(self.not()?);
        }
        Ok(Expr {
            kind: Kind::And(items),
            pos,
        })
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        if self.is_word("NOT") {
            let pos = self.bump().pos;
            self.enter(pos)?;
            let inner = self.not()?;
            self.leave();
            return Ok(Expr {
                kind: Kind::Not(Box::new(inner)),
                pos,
            });
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, QueryError> {
        let left = self.concat()?;
        let pos = left.pos;
        let op_pos = self.pos();
        let cmp = match self.peek() {
            Tok::Op(Op::Eq) => Some(CmpOp::Eq),
            Tok::Op(Op::Ne) => Some(CmpOp::Ne),
            Tok::Op(Op::Lt) => Some(CmpOp::Lt),
            Tok::Op(Op::Le) => Some(CmpOp::Le),
            Tok::Op(Op::Gt) => Some(CmpOp::Gt),
            Tok::Op(Op::Ge) => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = cmp {
            self.bump();
            let right = self.concat()?;
            return Ok(Expr {
                kind: Kind::Cmp {
                    op,
                    op_pos,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                pos,
            });
        }
        if self.eat_word("IS") {
            let negated = self.eat_word("NOT");
            if !self.eat_word("NULL") {
                return Err(self.unexpected(if negated { "NULL" } else { "NULL or NOT NULL" }));
            }
            return Ok(Expr {
                kind: Kind::IsNull {
                    negated,
                    op_pos,
                    expr: Box::new(left),
                },
                pos,
            });
        }
        let negated = self.is_word("NOT")
            && matches!(self.peek_at(1), Tok::Word { upper, .. } if upper == "LIKE" || upper == "BETWEEN" || upper == "IN");
        if negated {
            self.bump();
        }
        let expr = Box::new(left);
        if self.eat_word("LIKE") {
            let pattern = Box::new(self.concat()?);
            let escape = self.like_escape()?.map(Box::new);
            return Ok(Expr {
                kind: Kind::Like {
                    negated,
                    op_pos,
                    expr,
                    pattern,
                    escape,
                },
                pos,
            });
        }
        if self.eat_word("BETWEEN") {
            let low = Box::new(self.concat()?);
            if !self.eat_word("AND") {
                return Err(self.unexpected("AND (of BETWEEN ... AND ...)"));
            }
            let high = Box::new(self.concat()?);
            return Ok(Expr {
                kind: Kind::Between {
                    negated,
                    op_pos,
                    expr,
                    low,
                    high,
                },
                pos,
            });
        }
        if self.eat_word("IN") {
            self.expect(Tok::LParen, "'(' after IN")?;
            let mut list = vec![self.concat()?];
            while *self.peek() == Tok::Comma {
                self.bump();
                list.push(self.concat()?);
            }
            self.expect(Tok::RParen, "',' or ')' in the IN list")?;
            return Ok(Expr {
                kind: Kind::In {
                    negated,
                    op_pos,
                    expr,
                    list,
                },
                pos,
            });
        }
        Ok(*expr)
    }

    /// `ESCAPE expr` or the JDBC form `{escape 'c'}` after a LIKE pattern.
    fn like_escape(&mut self) -> Result<Option<Expr>, QueryError> {
        if self.eat_word("ESCAPE") {
            return Ok(Some(self.concat()?));
        }
        if *self.peek() == Tok::LBrace
            && self
                .brace_name_at(1)
                .is_some_and(|n| n.eq_ignore_ascii_case("escape"))
        {
            self.bump();
            self.bump();
            let e = self.concat()?;
            self.expect(Tok::RBrace, "'}' closing {escape ...}")?;
            return Ok(Some(e));
        }
        Ok(None)
    }

    fn concat(&mut self) -> Result<Expr, QueryError> {
        let first = self.additive()?;
        if *self.peek() != Tok::Op(Op::Concat) {
            return Ok(first);
        }
        let pos = first.pos;
        let mut items = vec![first];
        while *self.peek() == Tok::Op(Op::Concat) {
            self.bump();
            items.push(self.additive()?);
        }
        Ok(Expr {
            kind: Kind::Concat(items),
            pos,
        })
    }

    fn additive(&mut self) -> Result<Expr, QueryError> {
        let first = self.term()?;
        let pos = first.pos;
        let mut rest = Vec::new();
        loop {
            let op_pos = self.pos();
            match self.peek().clone() {
                Tok::Op(Op::Plus) => {
                    self.bump();
                    rest.push((ArithOp::Add, op_pos, self.term()?));
                }
                Tok::Op(Op::Minus) => {
                    self.bump();
                    rest.push((ArithOp::Sub, op_pos, self.term()?));
                }
                // `a -1`: the lexer read "-1" as a number; here, after an
                // operand, it is a subtraction.
                Tok::Long { value, neg: true } => {
                    self.bump();
                    let Some(v) = value.checked_neg() else {
                        return Err(syntax(op_pos, "integer is out of the range of a 64-bit long"));
                    };
                    let operand = Expr {
                        kind: Kind::Long(v),
                        pos: op_pos + 1,
                    };
                    let operand = self.term_rest(operand)?;
                    rest.push((ArithOp::Sub, op_pos, operand));
                }
                Tok::Double { value, neg: true } => {
                    self.bump();
                    let operand = Expr {
                        kind: Kind::Double(-value),
                        pos: op_pos + 1,
                    };
                    let operand = self.term_rest(operand)?;
                    rest.push((ArithOp::Sub, op_pos, operand));
                }
                _ => break,
            }
        }
        if rest.is_empty() {
            return Ok(first);
        }
        Ok(Expr {
            kind: Kind::Arith {
                first: Box::new(first),
                rest,
            },
            pos,
        })
    }

    fn term(&mut self) -> Result<Expr, QueryError> {
        let first = self.unary()?;
        self.term_rest(first)
    }

    fn term_rest(&mut self, first: Expr) -> Result<Expr, QueryError> {
        let pos = first.pos;
        let mut rest = Vec::new();
        loop {
            let op_pos = self.pos();
            let op = match self.peek() {
                Tok::Op(Op::Star) => ArithOp::Mul,
                Tok::Op(Op::Slash) => ArithOp::Div,
                _ => break,
            };
            self.bump();
            rest.push((op, op_pos, self.unary()?));
        }
        if rest.is_empty() {
            return Ok(first);
        }
        Ok(Expr {
            kind: Kind::Arith {
                first: Box::new(first),
                rest,
            },
            pos,
        })
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if *self.peek() == Tok::Op(Op::Minus) {
            let pos = self.bump().pos;
            self.enter(pos)?;
            let inner = self.unary()?;
            self.leave();
            return Ok(Expr {
                kind: Kind::Neg(Box::new(inner)),
                pos,
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let pos = self.pos();
        let kind = match self.peek().clone() {
            Tok::Str(s) => {
                self.bump();
                Kind::Str(s)
            }
            Tok::Hex(b) => {
                self.bump();
                Kind::Binary(b)
            }
            Tok::Long { value, .. } => {
                self.bump();
                Kind::Long(value)
            }
            Tok::Double { value, .. } => {
                self.bump();
                Kind::Double(value)
            }
            Tok::Param(n) => {
                self.bump();
                Kind::Param(n)
            }
            Tok::Attr { name, .. } => {
                self.bump();
                Kind::Attr(name)
            }
            Tok::LParen => {
                self.bump();
                self.enter(pos)?;
                let e = self.or()?;
                self.leave();
                self.expect(Tok::RParen, "')'")?;
                return Ok(Expr { kind: e.kind, pos });
            }
            Tok::LBrace => return self.brace(),
            Tok::Word { upper, .. } => return self.word(&upper),
            _ => return Err(self.unexpected("an expression (a field, a literal, '?' or '(')")),
        };
        Ok(Expr { kind, pos })
    }

    fn word(&mut self, upper: &str) -> Result<Expr, QueryError> {
        let pos = self.pos();
        let kind = match upper {
            "NULL" => Kind::Null,
            "CURRENT_DATE" => Kind::Current(Current::Date),
            "CURRENT_TIME" => Kind::Current(Current::Time),
            "CURRENT_TIMESTAMP" => Kind::Current(Current::Timestamp),
            _ => {
                if let Some(func) = Func::from_word(upper)
                    && *self.peek_at(1) == Tok::LParen
                {
                    self.bump();
                    return self.call(func, pos);
                }
                let hint = if Func::from_word(upper).is_some() {
                    " (a function: expected '(' after it)"
                } else {
                    ""
                };
                return Err(QueryError::new(
                    QueryErrorKind::Unsupported,
                    Some(pos),
                    format!(
                        "'{upper}' is a reserved SQL word not supported here{hint}; \
                         double-quote a field with this name (\"{}\")",
                        upper.to_lowercase()
                    ),
                ));
            }
        };
        self.bump();
        Ok(Expr { kind, pos })
    }

    /// A call's argument list; the name has been consumed.
    fn call(&mut self, func: Func, pos: usize) -> Result<Expr, QueryError> {
        self.expect(Tok::LParen, "'('")?;
        self.enter(pos)?;
        let mut interval = None;
        let mut args = Vec::new();
        if matches!(func, Func::TimestampAdd | Func::TimestampDiff) {
            let ipos = self.pos();
            let found = match self.peek() {
                Tok::Word { upper, .. } => Interval::from_word(upper),
                _ => None,
            };
            let Some(iv) = found else {
                return Err(self.unexpected(
                    "an interval (SQL_TSI_FRAC_SECOND, SQL_TSI_SECOND, SQL_TSI_MINUTE, SQL_TSI_HOUR, \
                     SQL_TSI_DAY, SQL_TSI_WEEK, SQL_TSI_MONTH, SQL_TSI_QUARTER or SQL_TSI_YEAR)",
                ));
            };
            self.bump();
            interval = Some((iv, ipos));
            self.expect(Tok::Comma, "',' after the interval")?;
        }
        if *self.peek() != Tok::RParen || interval.is_some() {
            args.push(self.or()?);
            while *self.peek() == Tok::Comma {
                self.bump();
                args.push(self.or()?);
            }
        }
        self.expect(Tok::RParen, "',' or ')' in the argument list")?;
        self.leave();
        Ok(Expr {
            kind: Kind::Call {
                func,
                name_pos: pos,
                interval,
                args,
            },
            pos,
        })
    }

    /// The raw name after `{` at offset `k` (a word or a bare name).
    fn brace_name_at(&self, k: usize) -> Option<String> {
        match self.peek_at(k) {
            Tok::Word { raw, .. } => Some(raw.clone()),
            Tok::Attr { name, bare: true } => Some(name.clone()),
            _ => None,
        }
    }

    /// `{type 'canonical'}`, `{d|t|ts 'jdbc'}` or `{fn name(args)}`.
    fn brace(&mut self) -> Result<Expr, QueryError> {
        let pos = self.bump().pos;
        let name_pos = self.pos();
        let Some(name) = self.brace_name_at(0) else {
            return Err(self.unexpected("fn or a type name after '{'"));
        };
        self.bump();
        if name.eq_ignore_ascii_case("fn") {
            let fpos = self.pos();
            let func = match self.peek() {
                Tok::Word { upper, .. } => Func::from_word(upper),
                _ => None,
            };
            let Some(func) = func else {
                let what = self.brace_name_at(0).unwrap_or_else(|| self.peek().describe());
                return Err(QueryError::new(
                    QueryErrorKind::Unsupported,
                    Some(fpos),
                    format!(
                        "unsupported function {what}: expected UCASE, LCASE, ABS, LENGTH, SUBSTRING, LOCATE, \
                         LTRIM, RTRIM, CONCAT, TIMESTAMPADD, TIMESTAMPDIFF, CURDATE, CURTIME or NOW"
                    ),
                ));
            };
            self.bump();
            let call = self.call(func, fpos)?;
            self.expect(Tok::RBrace, "'}' closing {fn ...}")?;
            return Ok(Expr { kind: call.kind, pos });
        }
        let lit_pos = self.pos();
        let Tok::Str(text) = self.peek().clone() else {
            return Err(self.unexpected(&format!("a string literal after '{{{name}'")));
        };
        self.bump();
        let kind = if let Some(ty) = FieldType::from_name(&name) {
            Kind::Typed(ty, text)
        } else if name.eq_ignore_ascii_case("d") {
            Kind::Typed(FieldType::Date, text)
        } else if name.eq_ignore_ascii_case("t") {
            Kind::Typed(FieldType::Time, text)
        } else if name.eq_ignore_ascii_case("ts") {
            Kind::Typed(
                FieldType::Timestamp,
                jdbc_timestamp(&text).map_err(|m| syntax(lit_pos, m))?,
            )
        } else if name.eq_ignore_ascii_case("escape") {
            return Err(syntax(pos, "{escape ...} must follow a LIKE pattern"));
        } else {
            return Err(QueryError::new(
                QueryErrorKind::Unsupported,
                Some(name_pos),
                format!(
                    "unsupported escape '{{{name} ...}}': expected {{fn ...}} or a typed literal {{type '...'}} \
                     with type long, double, string, char, date, time, timestamp, binary or objectid"
                ),
            ));
        };
        self.expect(Tok::RBrace, "'}' closing the typed literal")?;
        Ok(Expr { kind, pos })
    }
}

/// A JDBC `{ts 'yyyy-mm-dd hh:mm:ss[.f...]'}` as our canonical timestamp
/// text (read as UTC, like every timestamp here).
fn jdbc_timestamp(s: &str) -> Result<String, String> {
    let bad = || format!("invalid JDBC timestamp {s:?}: expected 'yyyy-mm-dd hh:mm:ss[.fff]'");
    let (date, time) = s.trim().split_once(' ').ok_or_else(bad)?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let ms: String = frac.chars().chain("000".chars()).take(3).collect();
    Ok(format!("{date}T{hms}.{ms}Z"))
}
