//! Tokens → AST (LANGUAGE.md 3): recursive descent for statements, and one operator-precedence
//! loop (table 3.1) for the binary operators and prefix `இல்லை`, so that an expression costs
//! a handful of native frames per bracket, not one per precedence level.
//!
//! The parser owns the syntax rules and the static rules that are visible in one file:
//! reserved words used as names, duplicate record fields and parameters, `இறக்கு`/`வழி` away
//! from the top level, and the source nesting limit (4.7). It stops at the first syntax error,
//! which is the one upstream reports; the non-fatal rule violations before it are reported too.
//!
//! Nesting: a token pre-scan refuses more than `MAX_NESTING` open brackets before any
//! recursion, and while parsing, `depth` (enclosing blocks, brackets and prefix operators) plus
//! the height of the expression being built must stay within `MAX_NESTING`. So no stage that
//! walks the AST recursively (checker, compiler, drop) goes deeper than that either.

use std::collections::HashSet;
use std::sync::Arc;

use super::ast::{BinOp, Expr, ExprKind, FnDef, Ident, RouteDef, Segment, Stmt, StmtKind, TypeKw};
use super::error::CompileError;
use super::lexer::{self, quote_source, Kw, Token, TokenKind};
use super::span::{FileId, Pos, Span};

/// Source nesting limit (LANGUAGE.md 4.7): brackets, blocks, prefix operators and operator
/// chains, counted together.
pub const MAX_NESTING: u32 = 200;

/// The first fatal error has been recorded in `Parser::errors`; unwind to the top.
struct Stop;

type PResult<T> = Result<T, Stop>;

/// What was expected, in both languages, for "expected X, found T".
#[derive(Clone, Copy)]
struct Expected {
    english: &'static str,
    tamil: &'static str,
}

const fn expected(english: &'static str, tamil: &'static str) -> Expected {
    Expected { english, tamil }
}

const SEMI: Expected = expected("';'", "';'");
const ASSIGN: Expected = expected("'='", "'='");
const RPAREN: Expected = expected("')'", "')'");
const RBRACKET: Expected = expected("']'", "']'");
const LBRACE: Expected = expected("'{'", "'{'");
const RBRACE: Expected = expected("'}'", "'}'");
const LPAREN: Expected = expected("'('", "'('");
const COLON: Expected = expected("':'", "':'");
const COMMA: Expected = expected("','", "','");
const COMMA_OR_RPAREN: Expected = expected("',' or ')'", "',' அல்லது ')'");
const COMMA_OR_RBRACKET: Expected = expected("',' or ']'", "',' அல்லது ']'");
const COMMA_OR_RBRACE: Expected = expected("',' or '}'", "',' அல்லது '}'");
const VALUE: Expected = expected("a value", "ஒரு மதிப்பு");
const STATEMENT: Expected = expected("a statement", "ஒரு கூற்று");
const VARIABLE: Expected = expected("a variable name", "ஒரு மாறிப் பெயர்");
const FIELD: Expected = expected("a field name", "ஒரு புலப் பெயர்");
const FUNCTION: Expected = expected("a function name", "ஒரு செயல் பெயர்");
const PARAMETER: Expected = expected("a parameter name", "ஒரு அளவுருப் பெயர்");
const LOOP_VARIABLE: Expected = expected("a loop variable", "ஒரு சுற்று மாறி");
const IN: Expected = expected("இல் (il)", "இல் (il)");
const AFTER_CONDITION: Expected = expected(
    "எனில் (eZil) or சுற்று (cuRRu) after a condition",
    "நிபந்தனைக்குப் பின் எனில் (eZil) அல்லது சுற்று (cuRRu)",
);
const MODULE_PATH: Expected = expected("a module path (a string)", "ஒரு தொகுதிப் பாதை (சொல்)");
const METHOD: Expected = expected("an HTTP method", "ஒரு HTTP முறை");
const ROUTE_PATH: Expected = expected("a route path (a string)", "ஒரு வழிப் பாதை (சொல்)");

/// The binary operators and prefix `இல்லை`, as they wait on the operator stack.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Or,
    And,
    Not,
    Bin(BinOp),
}

impl Op {
    /// Precedence level of table 3.1 (loosest = 1).
    fn level(self) -> u8 {
        match self {
            Op::Or => 1,
            Op::And => 2,
            Op::Not => 3,
            Op::Bin(BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge) => 4,
            Op::Bin(BinOp::Add | BinOp::Sub | BinOp::Concat) => 5,
            Op::Bin(BinOp::Mul | BinOp::Div) => 6,
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    tokens: &'a [Token],
    at: usize,
    file: FileId,
    /// Enclosing blocks, brackets and pending prefix operators.
    depth: u32,
    /// Enclosing blocks; 0 = top level.
    blocks: u32,
    errors: Vec<CompileError>,
    /// Statements parsed and not yet gathered into a block.
    stmts: Vec<Stmt>,
    /// Finished blocks waiting for their statement.
    bodies: Vec<Vec<Stmt>>,
    /// Expressions with their heights, waiting for their operator or statement.
    operands: Vec<(Expr, u32)>,
    /// Operators waiting for their right operand; each `expression` owns the top of it.
    ops: Vec<(Op, Pos)>,
    /// Unary minus signs waiting for their factor.
    minus: Vec<Pos>,
    /// Names (variables, fields, parameters) waiting for their node.
    names: Vec<Ident>,
}

/// Lexes and parses one file's text (before import splicing). Errors carry no file name.
pub fn parse_source(src: &str, file: FileId) -> Result<Vec<Stmt>, Vec<CompileError>> {
    let tokens = lexer::lex(src)?;
    parse(src, &tokens, file)
}

/// Parses the tokens of one file. `src` is the text they were read from.
pub fn parse(src: &str, tokens: &[Token], file: FileId) -> Result<Vec<Stmt>, Vec<CompileError>> {
    if let Some(error) = check_bracket_nesting(tokens) {
        return Err(vec![error]);
    }
    let mut parser = Parser {
        src,
        tokens,
        at: 0,
        file,
        depth: 0,
        blocks: 0,
        errors: Vec::new(),
        stmts: Vec::new(),
        bodies: Vec::new(),
        operands: Vec::new(),
        ops: Vec::new(),
        minus: Vec::new(),
        names: Vec::new(),
    };
    while parser.peek().is_some() {
        if parser.statement().is_err() {
            break;
        }
    }
    if parser.errors.is_empty() {
        Ok(parser.stmts)
    } else {
        Err(parser.errors)
    }
}

fn nesting_error(pos: Pos) -> CompileError {
    CompileError::new(
        pos,
        format!("உள்ளமைவு மிக ஆழமானது (வரம்பு {MAX_NESTING})"),
        format!("nesting too deep (limit is {MAX_NESTING})"),
    )
}

/// Refuses a file whose brackets nest deeper than the limit, before any recursion, wherever
/// they stand (a file like `{{{{…` never reaches a grammar rule that would count them).
fn check_bracket_nesting(tokens: &[Token]) -> Option<CompileError> {
    let mut depth: u32 = 0;
    for token in tokens {
        match token.kind {
            TokenKind::LParen | TokenKind::LBracket | TokenKind::LBrace => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(nesting_error(token.pos));
                }
            }
            TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace => {
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
    }
    None
}

/// Splits a route path into its pattern (LANGUAGE.md 10.1): empty segments are dropped and
/// `:name` is a parameter.
pub fn route_segments(path: &str) -> Vec<Segment> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match s.strip_prefix(':') {
            Some(name) => Segment::Param(name.to_owned()),
            None => Segment::Literal(s.to_owned()),
        })
        .collect()
}

impl<'a> Parser<'a> {
    // ---- tokens -------------------------------------------------------------------------

    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.at)
    }

    fn peek_kind(&self) -> Option<&'a TokenKind> {
        self.peek().map(|t| &t.kind)
    }

    fn peek_kind_at(&self, ahead: usize) -> Option<&'a TokenKind> {
        self.tokens.get(self.at + ahead).map(|t| &t.kind)
    }

    fn span(&self, pos: Pos) -> Span {
        Span::new(self.file, pos)
    }

    fn text(&self, token: &Token) -> &'a str {
        self.src.get(token.start..token.end).unwrap_or_default()
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        if self.peek_kind() == Some(kind) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, kind: &TokenKind, what: Expected) -> PResult<&'a Token> {
        match self.peek() {
            Some(token) if token.kind == *kind => {
                self.at += 1;
                Ok(token)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    // ---- errors -------------------------------------------------------------------------

    fn fail(&mut self, error: CompileError) -> Stop {
        self.errors.push(error);
        Stop
    }

    /// "expected X, found 'T'" at the current token, or "expected X, but the input ended" at
    /// the last token of the file.
    fn unexpected(&mut self, what: Expected) -> Stop {
        self.unexpected_with(what, "", "")
    }

    fn unexpected_with(&mut self, what: Expected, tamil_hint: &str, english_hint: &str) -> Stop {
        let error = match self.peek() {
            Some(token) => {
                let found = quote_source(self.text(token));
                CompileError::new(
                    token.pos,
                    format!(
                        "{} எதிர்பார்க்கப்பட்டது, '{found}' கிடைத்தது{tamil_hint}",
                        what.tamil
                    ),
                    format!("expected {}, found '{found}'{english_hint}", what.english),
                )
            }
            None => {
                let pos = self.tokens.last().map(|t| t.pos).unwrap_or(Pos::new(1, 1));
                CompileError::new(
                    pos,
                    format!("{} எதிர்பார்க்கப்பட்டது, ஆனால் உள்ளீடு முடிந்தது", what.tamil),
                    format!("expected {}, but the input ended", what.english),
                )
            }
        };
        self.fail(error)
    }

    /// A reserved word where a name was expected: say so, and how to get around it.
    fn reserved_as_name(&mut self, what: Expected, quotable: bool) -> Stop {
        let word = self
            .peek()
            .map(|t| quote_source(self.text(t)))
            .unwrap_or_default();
        let outside = matches!(self.peek_kind(), Some(TokenKind::Kw(Kw::Outside(_))));
        let (reserved_ta, reserved_en) = if outside {
            (
                "eTamil core-க்கு வெளியே உள்ள வசதிக்கான ஒதுக்கப்பட்ட சொல்",
                "a word reserved for a feature outside eTamil core",
            )
        } else {
            ("ஒதுக்கப்பட்ட சொல்", "a reserved word")
        };
        let (tamil, english) = if quotable {
            (
                format!(
                    "; '{word}' {reserved_ta}: அதை மேற்கோள் குறிகளுக்குள் (\"{word}\") எழுதுங்கள் அல்லது வேறு பெயரைத் தேர்ந்தெடுங்கள்"
                ),
                format!(
                    "; '{word}' is {reserved_en}: write it as a string (\"{word}\") or choose another name"
                ),
            )
        } else {
            (
                format!("; '{word}' {reserved_ta}: வேறு பெயரைத் தேர்ந்தெடுங்கள்"),
                format!("; '{word}' is {reserved_en}: choose another name"),
            )
        };
        self.unexpected_with(what, &tamil, &english)
    }

    fn enter(&mut self, pos: Pos) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.fail(nesting_error(pos)));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Checks that an expression of `height` built here stays within the nesting limit.
    fn check_height(&mut self, height: u32, pos: Pos) -> PResult<()> {
        if self.depth.saturating_add(height) > MAX_NESTING {
            return Err(self.fail(nesting_error(pos)));
        }
        Ok(())
    }

    // ---- names --------------------------------------------------------------------------

    /// An identifier, pushed on `names`; a reserved word here is an error that suggests
    /// another name.
    fn name(&mut self, what: Expected) -> PResult<()> {
        match self.peek() {
            Some(
                token @ Token {
                    kind: TokenKind::Ident(_),
                    ..
                },
            ) => {
                self.at += 1;
                self.build_name(token);
                Ok(())
            }
            Some(Token {
                kind: TokenKind::Kw(_),
                ..
            }) => Err(self.reserved_as_name(what, false)),
            _ => Err(self.unexpected(what)),
        }
    }

    /// A binding or field name, pushed on `names`: an identifier, or a string whose
    /// contents become the name.
    fn name_or_string(&mut self, what: Expected) -> PResult<()> {
        match self.peek() {
            Some(
                token @ Token {
                    kind: TokenKind::Ident(_) | TokenKind::Str(_),
                    ..
                },
            ) => {
                self.at += 1;
                self.build_name(token);
                Ok(())
            }
            Some(Token {
                kind: TokenKind::Kw(_),
                ..
            }) => Err(self.reserved_as_name(what, true)),
            _ => Err(self.unexpected(what)),
        }
    }

    #[inline(never)]
    fn build_name(&mut self, token: &Token) {
        let name = match &token.kind {
            TokenKind::Ident(name) | TokenKind::Str(name) => name.clone(),
            _ => Arc::from(""),
        };
        let span = self.span(token.pos);
        self.names.push(Ident { name, span });
    }

    // ---- statements ---------------------------------------------------------------------
    //
    // Every grammar function returns only success or failure and leaves what it built on the
    // parser's stacks (`stmts`, `bodies`, `operands`, `names`); the `#[inline(never)]`
    // builders pop them. So the frames on the recursive path hold no AST temporaries, and
    // `MAX_NESTING` levels fit in a small thread stack even in a debug build.

    fn statement(&mut self) -> PResult<()> {
        let Some(token) = self.peek() else {
            return Err(self.unexpected(STATEMENT));
        };
        let pos = token.pos;
        match &token.kind {
            TokenKind::Ident(_) => self.simple(None, pos),
            TokenKind::LParen => self.conditional(pos),
            TokenKind::Kw(kw) => match *kw {
                Kw::Type(ty) => {
                    self.at += 1;
                    self.simple(Some(ty), pos)
                }
                Kw::Print => {
                    self.at += 1;
                    self.expression()?;
                    self.expect(&TokenKind::Semi, SEMI)?;
                    self.build_print(pos);
                    Ok(())
                }
                Kw::Return => {
                    self.at += 1;
                    let with_value = !self.eat(&TokenKind::Semi);
                    if with_value {
                        self.expression()?;
                        self.expect(&TokenKind::Semi, SEMI)?;
                    }
                    self.build_return(pos, with_value);
                    Ok(())
                }
                Kw::Each => self.for_each(pos),
                Kw::Fn => self.function(pos),
                Kw::Import => self.import(pos),
                Kw::Route => self.route(pos),
                Kw::Response => self.response(pos),
                Kw::Outside(_) => Err(self.outside_statement()),
                _ if self.names_follow() => Err(self.reserved_as_name(STATEMENT, false)),
                _ => Err(self.unexpected(STATEMENT)),
            },
            _ => Err(self.unexpected(STATEMENT)),
        }
    }

    /// Whether the token after the current one is what follows a variable name in a
    /// statement, i.e. the current word was meant as a name.
    fn names_follow(&self) -> bool {
        matches!(
            self.peek_kind_at(1),
            Some(
                TokenKind::Assign
                    | TokenKind::Semi
                    | TokenKind::LBracket
                    | TokenKind::Dot
                    | TokenKind::LParen
            )
        )
    }

    /// A statement that starts with a word reserved for a feature outside eTamil core.
    fn outside_statement(&mut self) -> Stop {
        // `உள் = 5;` uses the word as a variable; `கோப்பு_திற("x");` uses the feature.
        if self.names_follow() && self.peek_kind_at(1) != Some(&TokenKind::LParen) {
            return self.reserved_as_name(STATEMENT, false);
        }
        let Some(token) = self.peek() else {
            return self.unexpected(STATEMENT);
        };
        let word = quote_source(self.text(token));
        let error = CompileError::new(
            token.pos,
            format!("'{word}' eTamil core-இன் பகுதி அல்ல"),
            format!("'{word}' is not part of eTamil core"),
        );
        self.fail(error)
    }

    /// The statements that begin with a name (after an optional type word).
    fn simple(&mut self, ty: Option<TypeKw>, pos: Pos) -> PResult<()> {
        self.name(VARIABLE)?;
        let Some(token) = self.peek() else {
            return Err(self.unexpected(ASSIGN));
        };
        match token.kind {
            TokenKind::Semi => {
                self.at += 1;
                self.build_assign(pos, ty, false);
            }
            TokenKind::Assign => {
                self.at += 1;
                self.expression()?;
                self.expect(&TokenKind::Semi, SEMI)?;
                self.build_assign(pos, ty, true);
            }
            TokenKind::LBracket => {
                self.at += 1;
                self.enter(token.pos)?;
                self.expression()?;
                self.leave();
                self.expect(&TokenKind::RBracket, RBRACKET)?;
                self.expect(&TokenKind::Assign, ASSIGN)?;
                self.expression()?;
                self.expect(&TokenKind::Semi, SEMI)?;
                self.build_set_index(pos);
            }
            TokenKind::Dot => {
                self.at += 1;
                self.name_or_string(FIELD)?;
                self.expect(&TokenKind::Assign, ASSIGN)?;
                self.expression()?;
                self.expect(&TokenKind::Semi, SEMI)?;
                self.build_set_field(pos);
            }
            TokenKind::LParen => {
                let count = self.arguments()?;
                self.expect(&TokenKind::Semi, SEMI)?;
                self.build_call_statement(pos, count);
            }
            _ => return Err(self.unexpected(ASSIGN)),
        }
        Ok(())
    }

    /// `(c) எனில் {…} [இன்றேல் {…}]` or `(c) சுற்று {…}`.
    fn conditional(&mut self, pos: Pos) -> PResult<()> {
        self.expect(&TokenKind::LParen, LPAREN)?;
        self.enter(pos)?;
        self.expression()?;
        self.leave();
        self.expect(&TokenKind::RParen, RPAREN)?;
        if self.eat(&TokenKind::Kw(Kw::If)) {
            self.block()?;
            let with_else = self.eat(&TokenKind::Kw(Kw::Else));
            if with_else {
                self.block()?;
            }
            self.build_if(pos, with_else);
            Ok(())
        } else if self.eat(&TokenKind::Kw(Kw::Loop)) {
            self.block()?;
            self.build_while(pos);
            Ok(())
        } else {
            Err(self.unexpected(AFTER_CONDITION))
        }
    }

    fn for_each(&mut self, pos: Pos) -> PResult<()> {
        self.at += 1;
        self.name_or_string(LOOP_VARIABLE)?;
        self.expect(&TokenKind::Kw(Kw::In), IN)?;
        self.expression()?;
        self.block()?;
        self.build_for_each(pos);
        Ok(())
    }

    fn function(&mut self, pos: Pos) -> PResult<()> {
        self.at += 1;
        self.name_or_string(FUNCTION)?;
        self.expect(&TokenKind::LParen, LPAREN)?;
        let mut count = 0;
        if !self.eat(&TokenKind::RParen) {
            loop {
                self.name_or_string(PARAMETER)?;
                count += 1;
                if self.eat(&TokenKind::RParen) {
                    break;
                }
                self.expect(&TokenKind::Comma, COMMA_OR_RPAREN)?;
            }
        }
        self.check_duplicates(count, "அளவுரு", "parameter");
        self.block()?;
        self.build_function(pos, count);
        Ok(())
    }

    /// Reports every name among the last `count` on the name stack that repeats an earlier
    /// one, at the repetition.
    #[inline(never)]
    fn check_duplicates(&mut self, count: usize, tamil: &str, english: &str) {
        let start = self.names.len().saturating_sub(count);
        let mut seen: HashSet<&str> = HashSet::new();
        let mut errors = Vec::new();
        for ident in self.names.get(start..).unwrap_or_default() {
            if !seen.insert(&ident.name) {
                errors.push(CompileError::new(
                    ident.span.pos,
                    format!("'{}' என்ற {tamil} இரண்டாம் முறை எழுதப்பட்டுள்ளது", ident.name),
                    format!("duplicate {english} '{}'", ident.name),
                ));
            }
        }
        self.errors.extend(errors);
    }

    /// Records "… must be at the top level" for the keyword at the current token.
    fn require_top_level(&mut self) {
        if self.blocks == 0 {
            return;
        }
        if let Some(token) = self.peek() {
            let word = quote_source(self.text(token));
            self.errors.push(CompileError::new(
                token.pos,
                format!("'{word}' மேல் மட்டத்தில் மட்டுமே வர வேண்டும், ஒரு தொகுதிக்குள் அல்ல"),
                format!("'{word}' must be at the top level, not inside a block"),
            ));
        }
    }

    fn import(&mut self, pos: Pos) -> PResult<()> {
        self.require_top_level();
        self.at += 1;
        let path = match self.peek_kind() {
            Some(TokenKind::Str(path)) => path.clone(),
            _ => return Err(self.unexpected(MODULE_PATH)),
        };
        self.at += 1;
        self.expect(&TokenKind::Semi, SEMI)?;
        self.push_stmt(
            pos,
            StmtKind::Import {
                path: path.to_string(),
            },
        );
        Ok(())
    }

    fn route(&mut self, pos: Pos) -> PResult<()> {
        self.require_top_level();
        self.at += 1;
        let method = match self.peek_kind() {
            Some(TokenKind::Kw(Kw::Method(method))) => Arc::from(*method),
            Some(TokenKind::Ident(name)) => name.clone(),
            _ => return Err(self.unexpected(METHOD)),
        };
        self.at += 1;
        self.expect(&TokenKind::Comma, COMMA)?;
        let path = match self.peek_kind() {
            Some(TokenKind::Str(path)) => path.clone(),
            _ => return Err(self.unexpected(ROUTE_PATH)),
        };
        self.at += 1;
        self.block()?;
        self.build_route(pos, &method, &path);
        Ok(())
    }

    fn response(&mut self, pos: Pos) -> PResult<()> {
        self.at += 1;
        self.expression()?;
        self.expect(&TokenKind::Comma, COMMA)?;
        self.expression()?;
        let with_headers = self.eat(&TokenKind::Comma);
        if with_headers {
            self.expression()?;
        }
        self.expect(&TokenKind::Semi, SEMI)?;
        self.build_response(pos, with_headers);
        Ok(())
    }

    /// `{ statement* }`; leaves the statements on the `bodies` stack.
    fn block(&mut self) -> PResult<()> {
        let open = self.expect(&TokenKind::LBrace, LBRACE)?;
        self.enter(open.pos)?;
        self.blocks += 1;
        let base = self.stmts.len();
        loop {
            match self.peek_kind() {
                Some(TokenKind::RBrace) => {
                    self.at += 1;
                    break;
                }
                Some(_) => self.statement()?,
                None => return Err(self.unexpected(RBRACE)),
            }
        }
        self.build_body(base);
        self.blocks -= 1;
        self.leave();
        Ok(())
    }

    // ---- statement builders (not on the recursive path) -----------------------------------

    fn push_stmt(&mut self, pos: Pos, kind: StmtKind) {
        let span = self.span(pos);
        self.stmts.push(Stmt { kind, span });
    }

    fn pop_expr(&mut self) -> Expr {
        self.operands.pop().map(|(e, _)| e).unwrap_or(Expr {
            kind: ExprKind::Nil,
            span: Span::default(),
        })
    }

    fn pop_name(&mut self) -> Ident {
        self.names.pop().unwrap_or(Ident {
            name: Arc::from(""),
            span: Span::default(),
        })
    }

    fn pop_body(&mut self) -> Vec<Stmt> {
        self.bodies.pop().unwrap_or_default()
    }

    #[inline(never)]
    fn build_body(&mut self, base: usize) {
        let body = self.stmts.split_off(base.min(self.stmts.len()));
        self.bodies.push(body);
    }

    #[inline(never)]
    fn build_print(&mut self, pos: Pos) {
        let value = self.pop_expr();
        self.push_stmt(pos, StmtKind::Print(value));
    }

    #[inline(never)]
    fn build_return(&mut self, pos: Pos, with_value: bool) {
        let value = with_value.then(|| self.pop_expr());
        self.push_stmt(pos, StmtKind::Return(value));
    }

    #[inline(never)]
    fn build_assign(&mut self, pos: Pos, ty: Option<TypeKw>, with_value: bool) {
        let value = with_value.then(|| self.pop_expr());
        let name = self.pop_name();
        self.push_stmt(pos, StmtKind::Assign { ty, name, value });
    }

    #[inline(never)]
    fn build_set_index(&mut self, pos: Pos) {
        let value = self.pop_expr();
        let index = self.pop_expr();
        let name = self.pop_name();
        self.push_stmt(pos, StmtKind::SetIndex { name, index, value });
    }

    #[inline(never)]
    fn build_set_field(&mut self, pos: Pos) {
        let value = self.pop_expr();
        let field = self.pop_name();
        let name = self.pop_name();
        self.push_stmt(pos, StmtKind::SetField { name, field, value });
    }

    #[inline(never)]
    fn build_call_statement(&mut self, pos: Pos, count: usize) {
        let args = self.pop_exprs(count).0;
        let name = self.pop_name();
        self.push_stmt(pos, StmtKind::Call { name, args });
    }

    #[inline(never)]
    fn build_if(&mut self, pos: Pos, with_else: bool) {
        let else_block = with_else.then(|| self.pop_body());
        let then_block = self.pop_body();
        let cond = self.pop_expr();
        self.push_stmt(
            pos,
            StmtKind::If {
                cond,
                then_block,
                else_block,
            },
        );
    }

    #[inline(never)]
    fn build_while(&mut self, pos: Pos) {
        let body = self.pop_body();
        let cond = self.pop_expr();
        self.push_stmt(pos, StmtKind::While { cond, body });
    }

    #[inline(never)]
    fn build_for_each(&mut self, pos: Pos) {
        let body = self.pop_body();
        let iterable = self.pop_expr();
        let var = self.pop_name();
        self.push_stmt(
            pos,
            StmtKind::ForEach {
                var,
                iterable,
                body,
            },
        );
    }

    #[inline(never)]
    fn build_function(&mut self, pos: Pos, count: usize) {
        let body = self.pop_body();
        let params = self.names.split_off(self.names.len().saturating_sub(count));
        let name = self.pop_name();
        let def = FnDef { name, params, body };
        self.push_stmt(pos, StmtKind::Function(Arc::new(def)));
    }

    #[inline(never)]
    fn build_route(&mut self, pos: Pos, method: &str, path: &str) {
        let body = self.pop_body();
        let def = RouteDef {
            method: method.to_uppercase(),
            path: path.to_owned(),
            segments: route_segments(path),
            body,
        };
        self.push_stmt(pos, StmtKind::Route(Arc::new(def)));
    }

    #[inline(never)]
    fn build_response(&mut self, pos: Pos, with_headers: bool) {
        let headers = with_headers.then(|| self.pop_expr());
        let body = self.pop_expr();
        let status = self.pop_expr();
        self.push_stmt(
            pos,
            StmtKind::Response {
                status,
                body,
                headers,
            },
        );
    }

    // ---- expressions --------------------------------------------------------------------

    /// The binary levels and prefix `இல்லை` of table 3.1, with the operator stack `ops`
    /// above `base`. Leaves the expression and its height on `operands`.
    fn expression(&mut self) -> PResult<()> {
        let base = self.ops.len();
        loop {
            // `இல்லை` sits above the comparisons: it may follow `அல்லது`, `மற்றும்` or another
            // `இல்லை`, but not a comparison or arithmetic operator (`a == இல்லை b` is an error).
            while let Some(Token {
                kind: TokenKind::Kw(Kw::Not),
                pos,
                ..
            }) = self.peek()
            {
                if self.ops.len() > base
                    && self
                        .ops
                        .last()
                        .is_some_and(|(op, _)| op.level() > Op::Not.level())
                {
                    return Err(self.unexpected(VALUE));
                }
                self.at += 1;
                self.ops.push((Op::Not, *pos));
                self.check_height((self.ops.len() - base) as u32, *pos)?;
            }
            self.operand()?;
            let Some((op, pos)) = self.binary_operator() else {
                break;
            };
            while self.ops.len() > base
                && self
                    .ops
                    .last()
                    .is_some_and(|(top, _)| top.level() >= op.level())
            {
                self.reduce()?;
            }
            self.at += 1;
            self.ops.push((op, pos));
            self.check_height((self.ops.len() - base) as u32, pos)?;
        }
        while self.ops.len() > base {
            self.reduce()?;
        }
        Ok(())
    }

    fn internal(&mut self) -> Stop {
        let pos = self
            .peek()
            .or(self.tokens.last())
            .map(|t| t.pos)
            .unwrap_or_default();
        self.fail(CompileError::new(
            pos,
            "பகுப்பியின் உள் பிழை",
            "internal parser error",
        ))
    }

    fn binary_operator(&self) -> Option<(Op, Pos)> {
        let token = self.peek()?;
        let op = match token.kind {
            TokenKind::Kw(Kw::Or) => Op::Or,
            TokenKind::Kw(Kw::And) => Op::And,
            TokenKind::EqEq => Op::Bin(BinOp::Eq),
            TokenKind::NotEq => Op::Bin(BinOp::Ne),
            TokenKind::Lt => Op::Bin(BinOp::Lt),
            TokenKind::Le => Op::Bin(BinOp::Le),
            TokenKind::Gt => Op::Bin(BinOp::Gt),
            TokenKind::Ge => Op::Bin(BinOp::Ge),
            TokenKind::Plus => Op::Bin(BinOp::Add),
            TokenKind::Minus => Op::Bin(BinOp::Sub),
            TokenKind::Amp => Op::Bin(BinOp::Concat),
            TokenKind::Star => Op::Bin(BinOp::Mul),
            TokenKind::Slash => Op::Bin(BinOp::Div),
            _ => return None,
        };
        Some((op, token.pos))
    }

    /// Applies the operator on top of the stack to its operands.
    #[inline(never)]
    fn reduce(&mut self) -> PResult<()> {
        let Some((op, pos)) = self.ops.pop() else {
            return Err(self.internal());
        };
        let span = self.span(pos);
        let (kind, height) = if op == Op::Not {
            let Some((inner, h)) = self.operands.pop() else {
                return Err(self.internal());
            };
            (ExprKind::Not(Box::new(inner)), h + 1)
        } else {
            let (Some((rhs, hr)), Some((lhs, hl))) = (self.operands.pop(), self.operands.pop())
            else {
                return Err(self.internal());
            };
            let (lhs, rhs) = (Box::new(lhs), Box::new(rhs));
            let kind = match op {
                Op::Or => ExprKind::Or(lhs, rhs),
                Op::And => ExprKind::And(lhs, rhs),
                Op::Bin(op) => ExprKind::Binary { op, lhs, rhs },
                Op::Not => return Err(self.internal()),
            };
            (kind, hl.max(hr) + 1)
        };
        self.check_height(height, pos)?;
        self.operands.push((Expr { kind, span }, height));
        Ok(())
    }

    /// `-`* factor, where a factor is a primary with its postfix operators. The minus signs
    /// are counted in a loop, not by recursion.
    fn operand(&mut self) -> PResult<()> {
        let base = self.minus.len();
        while let Some(Token {
            kind: TokenKind::Minus,
            pos,
            ..
        }) = self.peek()
        {
            self.at += 1;
            self.minus.push(*pos);
            self.enter(*pos)?;
        }
        let count = self.minus.len() - base;
        self.factor()?;
        self.depth = self.depth.saturating_sub(count as u32);
        self.build_negations(base);
        Ok(())
    }

    #[inline(never)]
    fn build_negations(&mut self, base: usize) {
        let signs = self.minus.split_off(base.min(self.minus.len()));
        let Some((mut expr, mut height)) = self.operands.pop() else {
            return;
        };
        for pos in signs.into_iter().rev() {
            expr = Expr {
                kind: ExprKind::Neg(Box::new(expr)),
                span: self.span(pos),
            };
            height += 1;
        }
        self.operands.push((expr, height));
    }

    fn factor(&mut self) -> PResult<()> {
        self.primary()?;
        while let Some(token) = self.peek() {
            match token.kind {
                TokenKind::LBracket => {
                    self.at += 1;
                    self.enter(token.pos)?;
                    self.expression()?;
                    self.leave();
                    self.expect(&TokenKind::RBracket, RBRACKET)?;
                    self.build_postfix(token.pos, Postfix::Index)?;
                }
                TokenKind::Dot => {
                    self.at += 1;
                    self.name_or_string(FIELD)?;
                    self.build_postfix(token.pos, Postfix::Field)?;
                }
                TokenKind::Question => {
                    self.at += 1;
                    self.build_postfix(token.pos, Postfix::Try)?;
                }
                _ => break,
            }
        }
        Ok(())
    }

    #[inline(never)]
    fn build_postfix(&mut self, pos: Pos, postfix: Postfix) -> PResult<()> {
        let index = match postfix {
            Postfix::Index => self.operands.pop(),
            Postfix::Field | Postfix::Try => None,
        };
        let Some((target, mut height)) = self.operands.pop() else {
            return Err(self.internal());
        };
        let target = Box::new(target);
        let kind = match (postfix, index) {
            (Postfix::Index, Some((index, h))) => {
                // The index sits one bracket deeper, like the node itself.
                height = height.max(h);
                ExprKind::Index {
                    target,
                    index: Box::new(index),
                }
            }
            (Postfix::Field, _) => ExprKind::Field {
                target,
                field: self.pop_name().name,
            },
            (Postfix::Try, _) => ExprKind::Try(target),
            (Postfix::Index, None) => return Err(self.internal()),
        };
        height += 1;
        self.check_height(height, pos)?;
        self.operands.push((
            Expr {
                kind,
                span: self.span(pos),
            },
            height,
        ));
        Ok(())
    }

    fn primary(&mut self) -> PResult<()> {
        let Some(token) = self.peek() else {
            return Err(self.unexpected(VALUE));
        };
        match &token.kind {
            TokenKind::Num(_)
            | TokenKind::Str(_)
            | TokenKind::Kw(Kw::True | Kw::False | Kw::Nil) => {
                self.at += 1;
                self.build_leaf(token);
                Ok(())
            }
            TokenKind::Ident(_) => {
                if self.peek_kind_at(1) == Some(&TokenKind::LParen) {
                    self.name(VALUE)?;
                    let count = self.arguments()?;
                    self.build_call(token.pos, count);
                } else {
                    self.at += 1;
                    self.build_leaf(token);
                }
                Ok(())
            }
            TokenKind::LParen => {
                self.at += 1;
                self.enter(token.pos)?;
                self.expression()?;
                self.leave();
                self.expect(&TokenKind::RParen, RPAREN)?;
                // Parentheses leave no node, but they are a level of source nesting.
                if let Some((_, height)) = self.operands.last_mut() {
                    *height += 1;
                }
                Ok(())
            }
            TokenKind::LBracket => self.array(),
            TokenKind::LBrace => self.record(),
            TokenKind::Kw(Kw::Outside(_)) => Err(self.reserved_as_name(VALUE, false)),
            _ => Err(self.unexpected(VALUE)),
        }
    }

    #[inline(never)]
    fn build_leaf(&mut self, token: &Token) {
        let kind = match &token.kind {
            TokenKind::Num(n) => ExprKind::Num(*n),
            TokenKind::Str(s) => ExprKind::Str(s.clone()),
            TokenKind::Kw(Kw::True) => ExprKind::Bool(true),
            TokenKind::Kw(Kw::False) => ExprKind::Bool(false),
            TokenKind::Ident(name) => ExprKind::Var(name.clone()),
            _ => ExprKind::Nil,
        };
        let span = self.span(token.pos);
        self.operands.push((Expr { kind, span }, 0));
    }

    /// `( [expr {, expr}] )`: leaves the arguments on `operands` and returns their count.
    fn arguments(&mut self) -> PResult<usize> {
        let open = self.expect(&TokenKind::LParen, LPAREN)?;
        self.enter(open.pos)?;
        let count = self.expressions_until(&TokenKind::RParen, COMMA_OR_RPAREN)?;
        self.leave();
        Ok(count)
    }

    /// `[expr {, expr}] close`, after the opening token: leaves the expressions on
    /// `operands` and returns their count. No trailing comma (LANGUAGE.md 3).
    fn expressions_until(&mut self, close: &TokenKind, expected: Expected) -> PResult<usize> {
        let mut count = 0;
        if !self.eat(close) {
            loop {
                self.expression()?;
                count += 1;
                if self.eat(close) {
                    break;
                }
                self.expect(&TokenKind::Comma, expected)?;
            }
        }
        Ok(count)
    }

    /// Pops the last `count` expressions, in source order, with their greatest height.
    fn pop_exprs(&mut self, count: usize) -> (Vec<Expr>, u32) {
        let items = self
            .operands
            .split_off(self.operands.len().saturating_sub(count));
        let height = items.iter().map(|(_, h)| *h).max().unwrap_or(0);
        (items.into_iter().map(|(e, _)| e).collect(), height)
    }

    #[inline(never)]
    fn build_call(&mut self, pos: Pos, count: usize) {
        let (args, height) = self.pop_exprs(count);
        let name = self.pop_name();
        let span = self.span(pos);
        self.operands.push((
            Expr {
                kind: ExprKind::Call { name, args },
                span,
            },
            height + 1,
        ));
    }

    fn array(&mut self) -> PResult<()> {
        let open = self.expect(&TokenKind::LBracket, VALUE)?;
        self.enter(open.pos)?;
        let count = self.expressions_until(&TokenKind::RBracket, COMMA_OR_RBRACKET)?;
        self.leave();
        self.build_array(open.pos, count);
        Ok(())
    }

    #[inline(never)]
    fn build_array(&mut self, pos: Pos, count: usize) {
        let (items, height) = self.pop_exprs(count);
        let span = self.span(pos);
        self.operands.push((
            Expr {
                kind: ExprKind::Array(items),
                span,
            },
            height + 1,
        ));
    }

    fn record(&mut self) -> PResult<()> {
        let open = self.expect(&TokenKind::LBrace, VALUE)?;
        self.enter(open.pos)?;
        let mut seen = HashSet::new();
        let mut count = 0;
        if !self.eat(&TokenKind::RBrace) {
            loop {
                self.name_or_string(FIELD)?;
                self.check_duplicate_field(&mut seen);
                self.expect(&TokenKind::Colon, COLON)?;
                self.expression()?;
                count += 1;
                if self.eat(&TokenKind::RBrace) {
                    break;
                }
                self.expect(&TokenKind::Comma, COMMA_OR_RBRACE)?;
            }
        }
        self.leave();
        self.build_record(open.pos, count);
        Ok(())
    }

    /// Reports the field just read if its record already has a field of that name (5.1: the
    /// error is at the repetition).
    #[inline(never)]
    fn check_duplicate_field(&mut self, seen: &mut HashSet<Arc<str>>) {
        let Some(field) = self.names.last() else {
            return;
        };
        if !seen.insert(field.name.clone()) {
            let error = CompileError::new(
                field.span.pos,
                format!("'{}' என்ற புலம் இரண்டாம் முறை எழுதப்பட்டுள்ளது", field.name),
                format!("duplicate field '{}'", field.name),
            );
            self.errors.push(error);
        }
    }

    #[inline(never)]
    fn build_record(&mut self, pos: Pos, count: usize) {
        let (values, height) = self.pop_exprs(count);
        let names = self.names.split_off(self.names.len().saturating_sub(count));
        let fields = names.into_iter().zip(values).collect();
        let span = self.span(pos);
        self.operands.push((
            Expr {
                kind: ExprKind::Record(fields),
                span,
            },
            height + 1,
        ));
    }
}

/// The postfix operators of table 3.1, level 8.
#[derive(Clone, Copy)]
enum Postfix {
    Index,
    Field,
    Try,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmts(src: &str) -> Vec<Stmt> {
        match parse_source(src, 0) {
            Ok(stmts) => stmts,
            Err(errors) => panic!(
                "{src}: {:?}",
                errors.iter().map(|e| e.message()).collect::<Vec<_>>()
            ),
        }
    }

    /// The first error: (line, column, English message).
    fn error(src: &str) -> (u32, u32, String) {
        let errors = parse_source(src, 0).expect_err(src);
        let e = &errors[0];
        (e.pos.line, e.pos.col, e.english.clone())
    }

    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Num(n) => n.to_string(),
            ExprKind::Str(s) => format!("\"{s}\""),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Nil => "nil".into(),
            ExprKind::Array(items) => {
                format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(" "))
            }
            ExprKind::Record(fields) => format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(f, v)| format!("{}: {}", f.name, show(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            ExprKind::Var(v) => v.to_string(),
            ExprKind::Call { name, args } => {
                format!(
                    "{}({})",
                    name.name,
                    args.iter().map(show).collect::<Vec<_>>().join(" ")
                )
            }
            ExprKind::Neg(x) => format!("(neg {})", show(x)),
            ExprKind::Not(x) => format!("(not {})", show(x)),
            ExprKind::Binary { op, lhs, rhs } => {
                let op = match op {
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::Mul => "*",
                    BinOp::Div => "/",
                    BinOp::Concat => "&",
                    BinOp::Eq => "==",
                    BinOp::Ne => "!=",
                    BinOp::Lt => "<",
                    BinOp::Le => "<=",
                    BinOp::Gt => ">",
                    BinOp::Ge => ">=",
                };
                format!("({op} {} {})", show(lhs), show(rhs))
            }
            ExprKind::And(a, b) => format!("(and {} {})", show(a), show(b)),
            ExprKind::Or(a, b) => format!("(or {} {})", show(a), show(b)),
            ExprKind::Index { target, index } => format!("(idx {} {})", show(target), show(index)),
            ExprKind::Field { target, field } => format!("(. {} {field})", show(target)),
            ExprKind::Try(x) => format!("(? {})", show(x)),
        }
    }

    fn expr(src: &str) -> Expr {
        let program = stmts(&format!("அச்சு {src};"));
        match program.into_iter().next().map(|s| s.kind) {
            Some(StmtKind::Print(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn precedence_follows_table_3_1() {
        let cases = [
            ("1 + 2 & 3 + 4", "(+ (& (+ 1 2) 3) 4)"),
            ("\"m\" & a + b", "(+ (& \"m\" a) b)"),
            ("1 + 2 * 3 - 4 / 2", "(- (+ 1 (* 2 3)) (/ 4 2))"),
            ("-a[0]", "(neg (idx a 0))"),
            ("-2 * 3", "(* (neg 2) 3)"),
            ("- -x", "(neg (neg x))"),
            ("இல்லை a == b", "(not (== a b))"),
            ("இல்லை இல்லை x", "(not (not x))"),
            ("இல்லை a மற்றும் b", "(and (not a) b)"),
            ("a மற்றும் இல்லை b + 1 > 2", "(and a (not (> (+ b 1) 2)))"),
            ("a அல்லது b மற்றும் c அல்லது d", "(or (or a (and b c)) d)"),
            ("1 < 2 < 3", "(< (< 1 2) 3)"),
            ("பாதி(2)? + 1", "(+ (? பாதி(2)) 1)"),
            ("r.a[1].\"உடல்\"", "(. (idx (. r a) 1) உடல்)"),
            ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
            (
                "[1, \"இரண்டு\", மெய், இன்மை, [3], {x: 1}]",
                "[1 \"இரண்டு\" true nil [3] {x: 1}]",
            ),
            ("{\"உடல்\": 1, b: f()}", "{உடல்: 1 b: f()}"),
            ("f(1, g(2), x)", "f(1 g(2) x)"),
            ("18% * 2", "(* 0.18 2)"),
            ("a _and _not b _or c", "(or (and a (not b)) c)"),
        ];
        for (src, want) in cases {
            assert_eq!(show(&expr(src)), want, "{src}");
        }
    }

    #[test]
    fn spans_point_at_the_operation() {
        let e = expr("x + 10 / 0");
        // `அச்சு x + 10 / 0;`: `+` at column 9, `/` at column 14.
        assert_eq!(e.span.pos, Pos::new(1, 9));
        let ExprKind::Binary { rhs, .. } = &e.kind else {
            panic!()
        };
        assert_eq!(rhs.span.pos, Pos::new(1, 14));
        assert_eq!(expr("  f(1)").span.pos, Pos::new(1, 9));
        assert_eq!(expr("a[1]").span.pos, Pos::new(1, 8));
        assert_eq!(expr("a.b").span.pos, Pos::new(1, 8));
        assert_eq!(expr("a?").span.pos, Pos::new(1, 8));
        assert_eq!(expr("-a").span.pos, Pos::new(1, 7));
        assert_eq!(expr("(a)").span.pos, Pos::new(1, 8));
        let s = stmts("\n  எண் x = 1;");
        assert_eq!(s[0].span.pos, Pos::new(2, 3));
        let StmtKind::Assign { name, ty, .. } = &s[0].kind else {
            panic!()
        };
        assert_eq!((name.span.pos, *ty), (Pos::new(2, 7), Some(TypeKw::Number)));
    }

    #[test]
    fn statement_forms() {
        let src = "எண் a; b = 1; eN c = 2; a[0] = 1; r.f = 2; r.\"உடல்\" = 3; f(1, 2); சொல் g(); \
                   அச்சு a; (a) எனில் { } இன்றேல் { அச்சு 1; } (a) சுற்று { a = a - 1; } \
                   ஒவ்வொரு x இல் [1] { } _each \"உள்\" _in r { } செயல் f(p, \"q\") { திரும்பு; } \
                   _fn h() { qirumpu p + 1; } இறக்கு \"m.qmz\"; பதில் 200, \"x\"; paDil 201, b, {}; \
                   வழி பெறு, \"/a//b/:id/\" { } vazhi get, \"/x\" { } _route _delete, \"/y\" { }";
        let kinds: Vec<String> = stmts(src)
            .into_iter()
            .map(|s| match s.kind {
                StmtKind::Assign { ty, name, value } => {
                    format!(
                        "assign {ty:?} {} {}",
                        name.name,
                        value.map(|v| show(&v)).unwrap_or_default()
                    )
                }
                StmtKind::SetIndex { name, index, value } => {
                    format!("set {}[{}] {}", name.name, show(&index), show(&value))
                }
                StmtKind::SetField { name, field, value } => {
                    format!("set {}.{} {}", name.name, field.name, show(&value))
                }
                StmtKind::Call { name, args } => format!("call {} {}", name.name, args.len()),
                StmtKind::Print(e) => format!("print {}", show(&e)),
                StmtKind::If {
                    then_block,
                    else_block,
                    ..
                } => {
                    format!("if {} {:?}", then_block.len(), else_block.map(|b| b.len()))
                }
                StmtKind::While { body, .. } => format!("while {}", body.len()),
                StmtKind::ForEach { var, .. } => format!("each {}", var.name),
                StmtKind::Function(f) => format!(
                    "fn {}({})",
                    f.name.name,
                    f.params
                        .iter()
                        .map(|p| p.name.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                StmtKind::Return(e) => {
                    format!("return {}", e.map(|e| show(&e)).unwrap_or_default())
                }
                StmtKind::Import { path } => format!("import {path}"),
                StmtKind::Route(r) => format!("route {} {} {:?}", r.method, r.path, r.segments),
                StmtKind::Response { headers, .. } => format!("response {}", headers.is_some()),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "assign Some(Number) a ",
                "assign None b 1",
                "assign Some(Number) c 2",
                "set a[0] 1",
                "set r.f 2",
                "set r.உடல் 3",
                "call f 2",
                "call g 0",
                "print a",
                "if 0 Some(1)",
                "while 1",
                "each x",
                "each உள்",
                "fn f(p,q)",
                "fn h()",
                "import m.qmz",
                "response false",
                "response true",
                "route GET /a//b/:id/ [Literal(\"a\"), Literal(\"b\"), Param(\"id\")]",
                "route GET /x [Literal(\"x\")]",
                "route DELETE /y [Literal(\"y\")]",
            ]
        );
    }

    #[test]
    fn parse_errors_at_the_unexpected_token() {
        let cases: &[(&str, (u32, u32, &str))] = &[
            // 060
            (
                "தொகை = 100;\nவரி = தொகை * 18%\nஅச்சு வரி;",
                (3, 1, "expected ';', found 'அச்சு'"),
            ),
            ("x = ", (1, 3, "expected a value, but the input ended")),
            ("x = 1", (1, 5, "expected ';', but the input ended")),
            ("(x) எனில் {", (1, 11, "expected '}', but the input ended")),
            (";", (1, 1, "expected a statement, found ';'")),
            ("(x) எனில் { } ;", (1, 15, "expected a statement, found ';'")),
            ("x + 1;", (1, 3, "expected '=', found '+'")),
            ("f(x)[0];", (1, 5, "expected ';', found '['")),
            ("f(x)?;", (1, 5, "expected ';', found '?'")),
            ("a[0][1] = v;", (1, 5, "expected '=', found '['")),
            ("r.a.b = v;", (1, 4, "expected '=', found '.'")),
            ("x = r.f(1);", (1, 8, "expected ';', found '('")),
            ("மாறி x = 5;", (1, 6, "expected '=', found 'x'")),
            (
                "(a) > 1 எனில் { }",
                (
                    1,
                    5,
                    "expected எனில் (eZil) or சுற்று (cuRRu) after a condition, found '>'",
                ),
            ),
            (
                "(a) எனில் { } இன்றேல் (b) எனில் { }",
                (1, 23, "expected '{', found '('"),
            ),
            ("அச்சு 1, 2;", (1, 8, "expected ';', found ','")),
            ("x = [1,];", (1, 8, "expected a value, found ']'")),
            ("x = {a: 1,};", (1, 11, "expected a field name, found '}'")),
            ("f(1,);", (1, 5, "expected a value, found ')'")),
            (
                "செயல் f(a,) { }",
                (1, 11, "expected a parameter name, found ')'"),
            ),
            (
                "x = a == இல்லை b;",
                (1, 10, "expected a value, found 'இல்லை'"),
            ),
            ("x = - இல்லை b;", (1, 7, "expected a value, found 'இல்லை'")),
            ("{ x = 1; }", (1, 1, "expected a statement, found '{'")),
            ("x = 10 % 3;", (1, 8, "unrecognized input '%'")),
            ("ஒவ்வொரு x [1] { }", (1, 11, "expected இல் (il), found '['")),
            (
                "வழி 5, \"/x\" { }",
                (1, 5, "expected an HTTP method, found '5'"),
            ),
            ("வழி GET \"/x\" { }", (1, 9, "expected ',', found '\"/x\"'")),
            (
                "வழி GET, x { }",
                (1, 10, "expected a route path (a string), found 'x'"),
            ),
            (
                "இறக்கு x;",
                (1, 8, "expected a module path (a string), found 'x'"),
            ),
            ("பதில் 200;", (1, 10, "expected ',', found ';'")),
            ("x = \"abc", (1, 5, "unterminated string")),
        ];
        for (src, (line, col, msg)) in cases {
            assert_eq!(error(src), (*line, *col, msg.to_string()), "{src}");
        }
    }

    #[test]
    fn tamil_messages_use_upstream_wording() {
        let errors = parse_source("x = 1\nஅச்சு x;", 0).expect_err("fails");
        assert_eq!(errors[0].tamil, "';' எதிர்பார்க்கப்பட்டது, 'அச்சு' கிடைத்தது");
        let errors = parse_source("x =", 0).expect_err("fails");
        assert_eq!(
            errors[0].tamil,
            "ஒரு மதிப்பு எதிர்பார்க்கப்பட்டது, ஆனால் உள்ளீடு முடிந்தது"
        );
    }

    #[test]
    fn reserved_words_as_names() {
        // 069
        let (line, col, msg) = error("தொகை = 1;\nஉள் = 5;");
        assert_eq!((line, col), (2, 1));
        assert!(msg.contains("reserved"), "{msg}");
        let (line, col, msg) = error("x = {எண்: 1};");
        assert_eq!((line, col), (1, 6));
        assert!(
            msg.starts_with("expected a field name, found 'எண்'"),
            "{msg}"
        );
        assert!(msg.contains("write it as a string (\"எண்\")"), "{msg}");
        for (src, at, what) in [
            ("அச்சு r.உடல்;", (1, 9), "a field name"),
            ("எண் மெய் = 1;", (1, 5), "a variable name"),
            ("செயல் எண்(a) { }", (1, 7), "a function name"),
            ("செயல் f(a, வழி) { }", (1, 12), "a parameter name"),
            ("ஒவ்வொரு இல் இல் x { }", (1, 9), "a loop variable"),
            ("மெய் = 1;", (1, 1), "a statement"),
            ("x = உள் + 1;", (1, 5), "a value"),
        ] {
            let (line, col, msg) = error(src);
            assert_eq!((line, col), at, "{src}");
            assert!(msg.starts_with(&format!("expected {what}")), "{src}: {msg}");
            assert!(msg.contains("reserved"), "{src}: {msg}");
        }
        let (line, col, msg) = error("x = 1;\nகோப்பு_திற \"a.txt\";");
        assert_eq!((line, col), (2, 1));
        assert_eq!(msg, "'கோப்பு_திற' is not part of eTamil core");
        let (_, _, msg) = error("_dbQuery \"x\";");
        assert_eq!(msg, "'_dbQuery' is not part of eTamil core");
        let (_, _, msg) = error("கோப்பு_திற(\"x\");");
        assert_eq!(msg, "'கோப்பு_திற' is not part of eTamil core");
        // Longer words that merely start with a reserved word are names.
        stmts("வரிசை_எண் = 1; உள்ளே = 2; இடைவெளிகள் = 3; வரி = 4; நிலை = 5; மாறி = 6;");
    }

    #[test]
    fn rule_violations_at_the_second_occurrence() {
        // 073
        let errors = parse_source("பதிவு = {தொகை: 100, வரி: 18, தொகை: 200};\nஅச்சு பதிவு;", 0)
            .expect_err("fails");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].pos, Pos::new(1, 30));
        assert_eq!(errors[0].english, "duplicate field 'தொகை'");
        let (line, col, msg) = error("x = {a: 1, \"a\": 2};");
        assert_eq!((line, col, msg.as_str()), (1, 12, "duplicate field 'a'"));
        let (line, col, msg) = error("செயல் f(a, b, a) { }");
        assert_eq!(
            (line, col, msg.as_str()),
            (1, 15, "duplicate parameter 'a'")
        );
        // Both violations are reported, then the first syntax error.
        let errors =
            parse_source("x = {a: 1, a: 2};\nசெயல் f(p, p) { }\ny = ;", 0).expect_err("fails");
        let got: Vec<_> = errors.iter().map(|e| (e.pos.line, e.pos.col)).collect();
        assert_eq!(got, vec![(1, 12), (2, 12), (3, 5)]);
    }

    #[test]
    fn imports_and_routes_only_at_top_level() {
        let (line, col, msg) = error("(மெய்) எனில் {\n  இறக்கு \"m.qmz\";\n}");
        assert_eq!((line, col), (2, 3));
        assert_eq!(msg, "'இறக்கு' must be at the top level, not inside a block");
        let (line, col, msg) = error("செயல் f() { vazhi GET, \"/x\" { } }");
        assert_eq!((line, col), (1, 13));
        assert!(msg.contains("must be at the top level"));
        let (line, col, _) = error("வழி GET, \"/a\" { _import \"x\"; }");
        assert_eq!((line, col), (1, 17));
    }

    /// Runs `f` on a thread with a small stack, so that native recursion would overflow.
    fn on_stack<T: Send + 'static>(bytes: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(bytes)
            .spawn(f)
            .expect("spawn")
            .join()
            .expect("no stack overflow")
    }

    fn nested(open: &str, middle: &str, close: &str, n: usize) -> String {
        format!("{}{middle}{}", open.repeat(n), close.repeat(n))
    }

    fn deep_sources(n: usize) -> Vec<String> {
        vec![
            format!("x = {};", nested("(", "1", ")", n)),
            format!("x = {};", nested("[", "1", "]", n)),
            format!("x = {};", nested("{a: ", "1", "}", n)),
            nested("{", "", "}", n),
            format!("x = {};", nested("-(", "1", ")", n)),
            format!("x = {};", nested("f(", "1", ")", n)),
            nested("(மெய்) எனில் { ", "", "}", n),
            format!("x = {}1;", "- ".repeat(n)),
            format!("x = {}1;", "இல்லை ".repeat(n)),
            format!("x = 1{};", " + 1".repeat(n)),
            format!("x = a{};", "[0]".repeat(n)),
            format!("x = a{};", "?".repeat(n)),
            format!("x = a{};", ".b".repeat(n)),
        ]
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        for src in deep_sources(100_000) {
            let errors = on_stack(256 * 1024, move || {
                parse_source(&src, 0).expect_err("too deep")
            });
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].english, "nesting too deep (limit is 200)");
        }
        let errors =
            parse_source(&format!("x = {};", nested("(", "1", ")", 201)), 0).expect_err("201");
        assert_eq!(errors[0].pos, Pos::new(1, 205));
    }

    #[test]
    fn nesting_up_to_the_limit_parses() {
        let sources = vec![
            format!("x = {};", nested("(", "1", ")", 200)),
            format!("x = {};", nested("[", "1", "]", 200)),
            format!("x = {};", nested("{a: ", "1", "}", 200)),
            format!("x = {};", nested("f(", "1", ")", 200)),
            format!("x = {};", nested("-(", "1", ")", 100)),
            nested("(மெய்) எனில் { ", "", "}", 200),
            format!("x = {}1;", "- ".repeat(200)),
            format!("x = {}1;", "இல்லை ".repeat(200)),
            format!("x = 1{};", " + 1".repeat(200)),
            format!("x = a{};", "[0]".repeat(200)),
        ];
        on_stack(1024 * 1024, move || {
            for src in sources {
                if let Err(e) = parse_source(&src, 0) {
                    panic!(
                        "{}: {:?}",
                        src.chars().take(12).collect::<String>(),
                        e[0].message()
                    );
                }
            }
        });
        for src in [
            format!("x = {};", nested("-(", "1", ")", 101)),
            format!("x = {}1;", "- ".repeat(201)),
            format!("x = {}1;", "இல்லை ".repeat(201)),
            format!("x = 1{};", " + 1".repeat(201)),
            format!("x = a{};", "[0]".repeat(201)),
        ] {
            let errors = parse_source(&src, 0).expect_err("201 levels");
            assert_eq!(
                errors[0].english,
                "nesting too deep (limit is 200)",
                "{}",
                &src[..20]
            );
        }
    }
}
