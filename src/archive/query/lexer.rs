//! Tokens of the 5800 query language (HC-API-FACTS §4).
//!
//! Positions are character offsets (0-based) into the query, counted in
//! Unicode scalar values, so an error can point at the offending spot
//! whatever the encoding of the names and literals before it.

use super::{QueryError, QueryErrorKind};

/// Comparison, arithmetic and concatenation operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Concat,
    Plus,
    Minus,
    Star,
    Slash,
}

impl Op {
    pub(crate) fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Concat => "||",
            Op::Plus => "+",
            Op::Minus => "-",
            Op::Star => "*",
            Op::Slash => "/",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// `'...'` (with `''` for a quote) or `N'...'`.
    Str(String),
    /// `x'hex'`.
    Hex(Vec<u8>),
    /// `-?[1-9][0-9]*`; `neg` when written with a leading `-`.
    Long {
        value: i64,
        neg: bool,
    },
    /// Any other number; `neg` when written with a leading `-`.
    Double {
        value: f64,
        neg: bool,
    },
    /// A bare identifier on the allowed list: its upper-case form and the
    /// text as written.
    Word {
        upper: String,
        raw: String,
    },
    /// An attribute (field) name: a bare identifier on neither list
    /// (`bare`), a dotted one, or a double-quoted one.
    Attr {
        name: String,
        bare: bool,
    },
    /// `?`, numbered from 1 in order of appearance.
    Param(usize),
    Op(Op),
    LParen,
    RParen,
    Comma,
    LBrace,
    RBrace,
    Eof,
}

impl Tok {
    /// How the token is named in "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Str(_) => "a string literal".into(),
            Tok::Hex(_) => "a binary literal".into(),
            Tok::Long { value, .. } => format!("the number {value}"),
            Tok::Double { value, .. } => format!("the number {value}"),
            Tok::Word { upper, .. } => format!("'{upper}'"),
            Tok::Attr { name, .. } => format!("the field name {name:?}"),
            Tok::Param(_) => "'?'".into(),
            Tok::Op(op) => format!("'{}'", op.text()),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::LBrace => "'{'".into(),
            Tok::RBrace => "'}'".into(),
            Tok::Eof => "the end of the query".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Character offset of the token's first character.
    pub pos: usize,
}

/// Words that pass through the original parser as SQL (QueryParser.jj's
/// allowed list). Only some mean something to us (see the parser); the
/// others are reported as unsupported, never taken as field names.
const ALLOWED: &str = "\
    ABS ABSOLUTE ACOS AFTER AND AS ASCII ASIN AT ATAN ATAN2 BEFORE BETWEEN BIGINT BINARY BIT BIT_LENGTH \
    BOOLEAN BOTH CASE CAST CEILING CHAR CHARACTER CHARACTER_LENGTH CHAR_LENGTH COALESCE COLLATE \
    COLLATION CONCAT CONTAINS CONVERT COS COT COUNT CURDATE CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP \
    CURTIME D DATE DAY DAYNAME DAYOFMONTH DAYOFYEAR DEC DECIMAL DEGREES DIFFERENCE DOUBLE ELSE ELSEIF \
    END ESCAPE EXISTS EXIT EXP EXPAND EXTRACT FALSE FIRST FLOAT FLOOR FN FOR FROM HOUR IF IFNULL IN INT \
    INTEGER INTERVAL IS LCASE LEADING LEFT LENGTH LIKE LOCATE LOG LOG10 LONGVARBINARY LONGVARCHAR LOWER \
    LTRIM MATCH MAX MIN MINUTE MOD MONTH MONTHNAME NCHAR NO NOT NOW NULL NUMERIC OCTET_LENGTH OF OR PAD \
    PI POSITION POWER QUARTER RADIANS RAND REAL REPEAT REPLACE RIGHT ROUND RTRIM SECOND SIGN SIN SIZE \
    SMALLINT SOUNDEX SPACE SQL_TSI_DAY SQL_TSI_FRAC_SECOND SQL_TSI_HOUR SQL_TSI_MINUTE SQL_TSI_MONTH \
    SQL_TSI_QUARTER SQL_TSI_SECOND SQL_TSI_WEEK SQL_TSI_YEAR SQRT SUBSTRING TAN THEN TIME TIMESTAMP \
    TIMESTAMPADD TIMESTAMPDIFF TIMEZONE_HOUR TIMEZONE_MINUTE TINYINT TO TRAILING TRIM TRUE TRUNCATE \
    UCASE UNKNOWN UPPER VARBINARY VARCHAR VARYING WEEK WHEN WHENEVER YEAR ZONE SQL_BIGINT SQL_BINARY \
    SQL_BIT SQL_BLOB SQL_BOOLEAN SQL_CHAR SQL_CLOB SQL_DATE SQL_DECIMAL SQL_DATALINK SQL_DOUBLE \
    SQL_FLOAT SQL_INTEGER SQL_LONGVARBINARY SQL_LONGNVARCHAR SQL_LONGVARCHAR SQL_NCHAR SQL_NCLOB \
    SQL_NUMERIC SQL_NVARCHAR SQL_REAL SQL_ROWID SQL_SQLXML SQL_SMALLINT SQL_TIME SQL_TIMESTAMP \
    SQL_TINYINT SQL_VARBINARY SQL_VARCHAR";

/// Words that make the query fail at once (QueryParser.jj's forbidden list,
/// plus the statement words the 5800 guide also names: WHERE, INSERT,
/// UPDATE, UNION, and SQLite's own statement words).
const FORBIDDEN: &str = "\
    ACTION ADD ALL ALLOCATE ALTER ANALYZE ANY APPLICATION ARE AREA ASC ASSERTION ATOMIC ATTACH \
    AUTHORIZATION AVG BEGIN BY CALL CASCADE CASCADED CATALOG CHECK CLOSE COLUMN COMMIT COMPRESS CONNECT \
    CONNECTION CONSTRAINT CONSTRAINTS CONTINUE CORRESPONDING CREATE CROSS CURRENT CURRENT_PATH \
    CURRENT_SCHEMA CURRENT_SCHEMAID CURRENT_USER CURRENT_USERID CURSOR DATA DATABASE DEALLOCATE DECLARE \
    DEFAULT DEFERRABLE DEFERRED DELETE DESC DESCRIBE DESCRIPTOR DETACH DETERMINISTIC DIAGNOSTICS \
    DIRECTORY DISCONNECT DISTINCT DO DOMAIN DOUBLEATTRIBUTE DROP EACH EXCEPT EXCEPTION EXEC EXECUTE \
    EXPLAIN EXTERNAL FETCH FOREIGN FOUND FULL FUNCTION GET GLOBAL GO GOTO GRANT GROUP HANDLER HAVING \
    IDENTITY IMMEDIATE INDEX INDEXED INDICATOR INITIALLY INNER INOUT INPUT INSENSITIVE INSERT INTERSECT \
    INTO ISOLATION JOIN KEY LANGUAGE LAST LEAVE LEVEL LIMIT LOCAL LONGATTRIBUTE LOOP MODIFIES MODULE \
    NAMES NATIONAL NATURAL NEXT NULLIF OFFSET ON ONLY OPEN OPTION ORDER OUT OUTER OUTPUT OVERLAPS OWNER \
    PARTIAL PATH PRAGMA PRECISION PREPARE PRESERVE PRIMARY PRIOR PRIVILEGES PROCEDURE PUBLIC READ READS \
    REFERENCES REINDEX RELATIVE RELEASE RESIGNAL RESTRICT RETURN RETURNS REVOKE ROLLBACK ROUTINE ROW \
    ROWS SAVEPOINT SCHEMA SCROLL SECTION SELECT SEQ SEQUENCE SESSION SESSION_USER SESSION_USERID SET \
    SIGNAL SOME SPECIFIC SQL SQLCODE SQLERROR SQLEXCEPTION SQLSTATE SQLWARNING STATEMENT STRINGATTRIBUTE \
    SUM SYSACC SYSHGH SYSLNK SYSNIX SYSTBLDEF SYSTBLDSC SYSTBT SYSTBTATT SYSTBTDEF SYSTEM_USER SYSUSR \
    SYSVIW SYSVIWCOL TABLE TABLETYPE TEMPORARY TRANSACTION TRANSLATE TRANSLATION TRIGGER UNION UPDATE \
    VACUUM VALUES WHERE WITH";

pub(crate) fn is_allowed_word(upper: &str) -> bool {
    ALLOWED.split_ascii_whitespace().any(|w| w == upper)
}

pub(crate) fn is_forbidden_word(upper: &str) -> bool {
    FORBIDDEN.split_ascii_whitespace().any(|w| w == upper)
}

/// Characters that form operator runs (FACTS §4: any run of them is one
/// token). `-` is not among them: it starts a negative number or stands
/// alone as minus.
fn is_op_char(c: char) -> bool {
    "!=<>&|%#$@;:/+~`*[]".contains(c)
}

fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (!c.is_ascii() && c.is_alphabetic())
}

fn is_letter_or_digit(c: char) -> bool {
    is_letter(c) || c.is_ascii_digit() || (!c.is_ascii() && c.is_alphanumeric())
}

fn syntax(pos: usize, message: impl Into<String>) -> QueryError {
    QueryError::new(QueryErrorKind::Syntax, Some(pos), message)
}

struct Lexer {
    chars: Vec<char>,
    i: usize,
    params: usize,
}

/// Splits a query into tokens; the last one is [`Tok::Eof`].
pub(crate) fn tokenize(query: &str) -> Result<Vec<Token>, QueryError> {
    let mut lx = Lexer {
        chars: query.chars().collect(),
        i: 0,
        params: 0,
    };
    let mut out = Vec::new();
    loop {
        let t = lx.next()?;
        let end = t.tok == Tok::Eof;
        out.push(t);
        if end {
            return Ok(out);
        }
    }
}

impl Lexer {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn next(&mut self) -> Result<Token, QueryError> {
        while let Some(c) = self.peek(0) {
            if matches!(c, ' ' | '\t' | '\r' | '\n') {
                self.i += 1;
            } else {
                break;
            }
        }
        let pos = self.i;
        let Some(c) = self.peek(0) else {
            return Ok(Token { tok: Tok::Eof, pos });
        };
        let tok = match c {
            '\'' => Tok::Str(self.quoted_string(pos)?),
            'n' | 'N' if self.peek(1) == Some('\'') => {
                self.i += 1;
                Tok::Str(self.quoted_string(pos)?)
            }
            'x' | 'X' if self.peek(1) == Some('\'') => {
                self.i += 1;
                let text = self.quoted_string(pos)?;
                Tok::Hex(hex_literal(&text).map_err(|(at, msg)| syntax(pos + 2 + at, msg))?)
            }
            '"' => Tok::Attr {
                name: self.quoted_name(pos)?,
                bare: false,
            },
            '?' => {
                self.i += 1;
                self.params += 1;
                Tok::Param(self.params)
            }
            '(' | ')' | ',' | '{' | '}' => {
                self.i += 1;
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    ',' => Tok::Comma,
                    '{' => Tok::LBrace,
                    _ => Tok::RBrace,
                }
            }
            '-' => {
                let next = self.peek(1);
                if next.is_some_and(|d| d.is_ascii_digit())
                    || (next == Some('.') && self.peek(2).is_some_and(|d| d.is_ascii_digit()))
                {
                    self.number(pos)?
                } else if next == Some('-') {
                    return Err(syntax(pos, "comments ('--') are not allowed in a query"));
                } else {
                    self.i += 1;
                    Tok::Op(Op::Minus)
                }
            }
            '.' if self.peek(1).is_some_and(|d| d.is_ascii_digit()) => self.number(pos)?,
            c if c.is_ascii_digit() => self.number(pos)?,
            c if is_op_char(c) => self.operator(pos)?,
            c if is_letter(c) => self.identifier(pos)?,
            c if !c.is_ascii() => {
                return Err(syntax(
                    pos,
                    format!(
                        "unexpected character {c:?} (U+{:04X}): only ASCII is allowed outside literals and names",
                        u32::from(c)
                    ),
                ));
            }
            c => {
                return Err(syntax(
                    pos,
                    format!(
                        "unexpected character {c:?}; expected a field name, a literal, '?', an operator or '('"
                    ),
                ));
            }
        };
        Ok(Token { tok, pos })
    }

    /// A `'...'` literal at `self.i` (the opening quote); `start` is where
    /// the token began (before an `N` or `x` prefix).
    fn quoted_string(&mut self, start: usize) -> Result<String, QueryError> {
        self.i += 1;
        let mut s = String::new();
        loop {
            match self.peek(0) {
                None => {
                    return Err(syntax(
                        self.chars.len(),
                        format!(
                            "unterminated string literal (opened at position {start}): expected a closing '"
                        ),
                    ));
                }
                Some('\'') if self.peek(1) == Some('\'') => {
                    s.push('\'');
                    self.i += 2;
                }
                Some('\'') => {
                    self.i += 1;
                    return Ok(s);
                }
                Some(c) => {
                    s.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// A `"..."` name: a backslash takes the next character literally;
    /// line breaks are not allowed.
    fn quoted_name(&mut self, start: usize) -> Result<String, QueryError> {
        self.i += 1;
        let mut s = String::new();
        loop {
            match self.peek(0) {
                None => {
                    return Err(syntax(
                        self.chars.len(),
                        format!(
                            "unterminated quoted name (opened at position {start}): expected a closing \""
                        ),
                    ));
                }
                Some('\n' | '\r') => {
                    return Err(syntax(
                        self.i,
                        "a line break is not allowed in a quoted name: expected a closing \"",
                    ));
                }
                Some('\\') => match self.peek(1) {
                    None | Some('\n' | '\r') => {
                        return Err(syntax(
                            self.i + 1,
                            "expected a character after '\\' in a quoted name",
                        ));
                    }
                    Some(c) => {
                        s.push(c);
                        self.i += 2;
                    }
                },
                Some('"') => {
                    self.i += 1;
                    if s.is_empty() {
                        return Err(syntax(
                            start,
                            "empty quoted name: expected a field name between the quotes",
                        ));
                    }
                    return Ok(s);
                }
                Some(c) => {
                    s.push(c);
                    self.i += 1;
                }
            }
        }
    }

    fn number(&mut self, pos: usize) -> Result<Tok, QueryError> {
        let neg = self.peek(0) == Some('-');
        if neg {
            self.i += 1;
        }
        let digits_start = self.i;
        let mut integer = true;
        while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if self.peek(0) == Some('.') {
            integer = false;
            self.i += 1;
            while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.peek(1), Some('+' | '-')));
            if !self.peek(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                return Err(syntax(
                    self.i,
                    "malformed number: expected digits after the exponent 'e'",
                ));
            }
            integer = false;
            self.i += 1 + sign;
            while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
        }
        let text: String = self.chars[digits_start..self.i].iter().collect();
        if matches!(self.peek(0), Some('d' | 'D')) {
            integer = false;
            self.i += 1;
        }
        if let Some(c) = self.peek(0)
            && (is_letter_or_digit(c) || c == '.')
        {
            return Err(syntax(
                self.i,
                format!("malformed number: unexpected {c:?} after it"),
            ));
        }
        if integer && !text.starts_with('0') {
            let signed = if neg { format!("-{text}") } else { text };
            let value = signed.parse::<i64>().map_err(|_| {
                syntax(
                    pos,
                    format!("integer {signed} is out of the range of a 64-bit long"),
                )
            })?;
            return Ok(Tok::Long { value, neg });
        }
        let value: f64 = text
            .parse()
            .map_err(|_| syntax(pos, format!("malformed number {text:?}")))?;
        if !value.is_finite() {
            return Err(syntax(
                pos,
                format!("number {text} is out of the range of a double"),
            ));
        }
        Ok(Tok::Double {
            value: if neg { -value } else { value },
            neg,
        })
    }

    fn operator(&mut self, pos: usize) -> Result<Tok, QueryError> {
        let start = self.i;
        while self.peek(0).is_some_and(is_op_char) {
            self.i += 1;
        }
        let run: String = self.chars[start..self.i].iter().collect();
        let op = match run.as_str() {
            "=" => Op::Eq,
            "<>" | "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "||" => Op::Concat,
            "+" => Op::Plus,
            "*" => Op::Star,
            "/" => Op::Slash,
            _ if run.contains("/*") || run.contains("*/") => {
                return Err(syntax(pos, "comments ('/* */') are not allowed in a query"));
            }
            _ if run.contains(';') => {
                return Err(syntax(pos, "';' is not allowed: a query is a single expression"));
            }
            _ => {
                return Err(syntax(
                    pos,
                    format!("unknown operator '{run}': expected one of = <> != < <= > >= || + * /"),
                ));
            }
        };
        Ok(Tok::Op(op))
    }

    fn identifier(&mut self, pos: usize) -> Result<Tok, QueryError> {
        let mut name = String::new();
        let mut dotted = false;
        loop {
            while self.peek(0).is_some_and(is_letter_or_digit) {
                name.push(self.chars[self.i]);
                self.i += 1;
            }
            if self.peek(0) != Some('.') {
                break;
            }
            if !self.peek(1).is_some_and(is_letter) {
                return Err(syntax(self.i + 1, format!("expected a name after '{name}.'")));
            }
            dotted = true;
            name.push('.');
            self.i += 1;
        }
        if dotted {
            return Ok(Tok::Attr { name, bare: false });
        }
        let upper = name.to_uppercase();
        if is_forbidden_word(&upper) {
            return Err(QueryError::new(
                QueryErrorKind::ForbiddenWord,
                Some(pos),
                format!(
                    "the query contains the forbidden word '{upper}' (double-quote a field with this name)"
                ),
            ));
        }
        if is_allowed_word(&upper) {
            return Ok(Tok::Word { upper, raw: name });
        }
        Ok(Tok::Attr { name, bare: true })
    }
}

/// Bytes of a `x'...'` literal: hex digits of either case, an odd count
/// left-justified (`b0a` = b0 a0), as the canonical decoder does. On error,
/// the offset within the text and a message.
fn hex_literal(text: &str) -> Result<Vec<u8>, (usize, String)> {
    let mut out = Vec::with_capacity(text.len() / 2 + 1);
    let mut half: Option<u8> = None;
    for (at, c) in text.chars().enumerate() {
        let Some(d) = c.to_digit(16) else {
            return Err((
                at,
                format!("expected a hex digit in a binary literal, found {c:?}"),
            ));
        };
        let d = d as u8;
        match half.take() {
            None => half = Some(d),
            Some(h) => out.push(h << 4 | d),
        }
    }
    if let Some(h) = half {
        out.push(h << 4);
    }
    Ok(out)
}
