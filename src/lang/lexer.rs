//! Text → tokens (LANGUAGE.md 2): words and the one keyword table (every spelling, Tamil |
//! romanized | English, of every keyword of 2.5 and every reserved word of Appendix A), exact
//! decimal and percentage literals, strings with their escapes, and punctuation.
//!
//! The lexer knows nothing about grammar: it never decides whether a keyword may stand where it
//! stands. It reports every unrecognized piece of the file, each as its own `CompileError`,
//! before any parsing starts (8.1). Errors carry no file name; the loader adds it.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use rust_decimal::Decimal;

use super::ast::TypeKw;
use super::error::CompileError;
use super::span::Pos;

/// A reserved word: a keyword of eTamil core, or a word upstream reserves for a feature eTamil
/// core leaves out (Appendix A).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kw {
    Type(TypeKw),
    True,
    False,
    Nil,
    Print,
    If,
    Else,
    Loop,
    Fn,
    Return,
    Each,
    In,
    Import,
    And,
    Or,
    Not,
    Route,
    Response,
    /// An HTTP method keyword, holding the upper-cased method (`"GET"`, …).
    Method(&'static str),
    /// A word reserved for a feature outside eTamil core, holding its Tamil spelling.
    Outside(&'static str),
}

#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// An identifier: a word that is not reserved, kept exactly as written.
    Ident(Arc<str>),
    Kw(Kw),
    /// A number or percentage literal; a percentage is already divided by 100.
    Num(Decimal),
    /// A string literal with its escapes resolved.
    Str(Arc<str>),
    EqEq,
    NotEq,
    Ge,
    Le,
    Gt,
    Lt,
    Assign,
    Plus,
    Minus,
    Star,
    Slash,
    Amp,
    Question,
    LBracket,
    RBracket,
    Dot,
    Colon,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Semi,
}

/// A token, where it starts, and the bytes of the source it was read from (for messages that
/// quote what was found).
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub pos: Pos,
    pub start: usize,
    pub end: usize,
}

/// Every spelling of every keyword of eTamil core (LANGUAGE.md 2.5).
const CORE: &[(&[&str], Kw)] = &[
    (&["எண்", "eN"], Kw::Type(TypeKw::Number)),
    (&["பின்னம்", "piZZam"], Kw::Type(TypeKw::Decimal)),
    (&["சொல்", "col"], Kw::Type(TypeKw::String)),
    (&["உரை", "urY"], Kw::Type(TypeKw::Text)),
    (&["ஈர்ம", "Irma"], Kw::Type(TypeKw::Boolean)),
    (&["அணி", "aNi"], Kw::Type(TypeKw::Array)),
    (&["பொருள்", "poruL"], Kw::Type(TypeKw::Record)),
    (&["தரவு", "qaravu"], Kw::Type(TypeKw::Data)),
    (&["தேதி", "qEqi"], Kw::Type(TypeKw::Date)),
    (&["மெய்", "mey"], Kw::True),
    (&["பொய்", "poy"], Kw::False),
    (&["இன்மை", "iZmY"], Kw::Nil),
    (&["அச்சு", "accu"], Kw::Print),
    (&["எனில்", "eZil"], Kw::If),
    (&["இன்றேல்", "iZREl"], Kw::Else),
    (&["சுற்று", "cuRRu"], Kw::Loop),
    (&["செயல்", "ceyal", "_fn"], Kw::Fn),
    (&["திரும்பு", "qirumpu", "_return"], Kw::Return),
    (&["ஒவ்வொரு", "ovvoru", "_each"], Kw::Each),
    (&["இல்", "il", "_in"], Kw::In),
    (&["இறக்கு", "iRakku", "_import"], Kw::Import),
    (&["மற்றும்", "maRRum", "_and"], Kw::And),
    (&["அல்லது", "allaqu", "_or"], Kw::Or),
    (&["இல்லை", "illY", "_not"], Kw::Not),
    (&["வழி", "vazhi", "_route"], Kw::Route),
    (&["பதில்", "paDil", "_response"], Kw::Response),
    (&["பெறு", "peRu", "_get"], Kw::Method("GET")),
    (&["பதி", "paqi", "_post"], Kw::Method("POST")),
    (&["இடு", "itu", "_put"], Kw::Method("PUT")),
    (&["அழி", "azi", "_delete"], Kw::Method("DELETE")),
    (&["ஒட்டு", "ottu", "_patch"], Kw::Method("PATCH")),
    (&["தெரிவு", "qerivu", "_options"], Kw::Method("OPTIONS")),
    (&["தலை", "talY", "_head"], Kw::Method("HEAD")),
];

/// Every spelling of the words upstream reserves for features outside eTamil core
/// (LANGUAGE.md Appendix A); the first spelling is the Tamil one.
const OUTSIDE: &[&[&str]] = &[
    &["உள்ளிடு", "uLLitu"],
    &["கோப்பு", "kOppu", "_file"],
    &["தரவுரை", "qaravurY", "_CSV"],
    &["படி", "pati", "_read"],
    &["எழுது", "ezuqu", "_write"],
    &["திற", "qiRa", "_open"],
    &["மூடு", "mUtu", "_close"],
    &["கோப்பு_திற", "kOppu_qiRa", "_fileOpen"],
    &["கோப்பு_மூடு", "kOppu_mUtu", "_fileClose"],
    &["கோப்பு_படி", "kOppu_pati", "_fileRead"],
    &["கோப்பு_எழுது", "kOppu_ezuqu", "_fileWrite"],
    &["தரவுரை_படி", "qaravurY_pati", "_readCSV"],
    &["தரவுரை_எழுது", "qaravurY_ezuqu", "_writeCSV"],
    &["தரவுதளம்", "qaravuqaLam", "_database"],
    &["தளம்_இணை", "qaLam_iNY", "_dbConnect"],
    &["தளம்_பிரி", "qaLam_piri", "_dbDisconnect"],
    &["தளம்_வினா", "qaLam_viZA", "_dbQuery"],
    &["தளம்_செய்", "qaLam_cey", "_dbExecute"],
    &["தளம்_தேடு", "qaLam_qEtu", "_dbSearch"],
    &["தளம்_செருக", "qaLam_ceruka", "_dbInsert"],
    &["தளம்_புதுப்பி", "qaLam_puquppi", "_dbUpdate"],
    &["தளம்_நீக்கு", "qaLam_nIkku", "_dbDelete"],
    &["கவி_மொழி", "kavi_mozi", "_SQL"],
    &["தேடு_மொழி", "qEtu_mozi", "_NoSQL"],
    &["சீகுலைட்", "cIkulYt", "_SQLite"],
    &["மைசீகுல்", "mYcIkul", "_MySQL"],
    &["போச்குரசீகுல்", "pOckuracIkul", "_PostgreSQL"],
    &["மாங்கோடிபி", "mAwkOtipi", "_MongoDB"],
    &["ரெடிஸ்", "retis", "_Redis"],
    &["ஜேசான்", "jEcAZ", "_JSON"],
    &["அட்டை", "attY", "_table"],
    &["தொகுப்பு", "toguippu", "_collection"],
    &["நிரை", "nirY", "_row"],
    &["பத்தி", "paqqi", "_column"],
    &["விசை", "vicY", "_key"],
    &["தனிக_விசை", "taZik_vicY", "_primaryKey"],
    &["வெளி_விசை", "veLi_vicY", "_foreignKey"],
    &["குறியீடு", "kuRiyItu", "_index"],
    &["அட்டை_ஆக்கு", "attY_Akku", "_createTable"],
    &["அட்டை_மாற்று", "attY_mARRu", "_alterTable"],
    &["அட்டை_நீக்கு", "attY_nIkku", "_dropTable"],
    &["தேர்வெடு", "qErvetu", "_select"],
    &["இதனில்", "iqaZil", "_from"],
    &["விதி", "viqi", "_where"],
    &["வரிசை", "varicY", "_orderBy"],
    &["குழு", "kuzu", "_groupBy"],
    &["சேர்", "cEr", "_join"],
    &["இடம்", "itam", "_left"],
    &["வலம்", "valam", "_right"],
    &["உள்", "uL", "_inner"],
    &["வெளி", "veLi", "_outer"],
    &["தனிக", "qaZika", "_distinct"],
    &["வரம்பு", "varampu", "_limit"],
    &["ஈடு", "Itu", "_offset"],
    &["தள_இடை", "qaLa_itY", "_api"],
    &["இறுதி_புள்ளி", "iraqi_pulli", "_endpoint"],
    &["இடைவெளி", "itYveLi", "_every"],
    &["கோரிக்கை", "kOrikkY", "_request"],
    &["தலைப்பு", "talYppu", "_header"],
    &["உடல்", "uqal", "_body"],
    &["அளவுரு", "aLavuru", "_param"],
    &["வினா_அளவுரு", "viZA_aLavuru", "_queryParam"],
    &["பாதை_அளவுரு", "pAtY_aLavuru", "_pathParam"],
    &["ஜேசான்_உரை", "jEcAZ_urY", "_jsonBody"],
    &["உரலி", "urali", "_url"],
    &["புரவலன்", "puravalaZ", "_host"],
    &["குதை", "kuqY", "_port"],
    &["முறை", "muRY", "_method"],
    &["நிலை_குறி", "nilY_kuRi", "_statusCode"],
    &["நிலை_செய்தி", "nilY_ceyqi", "_statusMessage"],
    &["உறுதி", "uRuqi", "_auth"],
    &["குறிதாங்கி", "kuRiqAwki", "_bearerToken"],
    &["உரை_வகை", "urY_vakY", "_contentType"],
    &["சேவை", "cEvY", "_serve"],
    &["வழங்கி_தொடங்கு", "vazawki_toqotawku", "_startServer"],
    &["வழங்கி_நிறுத்து", "vazawki_niRuqqu", "_stopServer"],
    &["மறை", "maRY", "_encrypt"],
    &["வெளிப்படு", "veLippatu", "_decrypt"],
    &["குறிமுறை", "kuRimuRY", "_password"],
    &["மறை_விசை", "maRY_vicY", "_encryptionKey"],
];

fn keyword_table() -> &'static HashMap<&'static str, Kw> {
    static TABLE: OnceLock<HashMap<&'static str, Kw>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = HashMap::new();
        for (spellings, kw) in CORE {
            for s in *spellings {
                table.insert(*s, *kw);
            }
        }
        for spellings in OUTSIDE {
            let tamil = spellings.first().copied().unwrap_or_default();
            for s in *spellings {
                table.insert(*s, Kw::Outside(tamil));
            }
        }
        table
    })
}

/// The reserved word spelled exactly `word`, if any (matching is case-sensitive, 2.4).
pub fn keyword(word: &str) -> Option<Kw> {
    keyword_table().get(word).copied()
}

/// The first spellings of a keyword, for messages: Tamil and, when it has one, romanized.
pub fn spellings(kw: Kw) -> &'static [&'static str] {
    if let Kw::Outside(tamil) = kw {
        return OUTSIDE
            .iter()
            .find(|s| s.first() == Some(&tamil))
            .copied()
            .unwrap_or(&[]);
    }
    CORE.iter()
        .find(|(_, k)| *k == kw)
        .map(|(s, _)| *s)
        .unwrap_or(&[])
}

/// A character that may start a word (2.4): the whole Tamil block, ASCII letters and `_`.
fn is_word_start(c: char) -> bool {
    matches!(c, '\u{0B80}'..='\u{0BFF}' | 'A'..='Z' | 'a'..='z' | '_')
}

fn is_word_char(c: char) -> bool {
    is_word_start(c) || c.is_ascii_digit()
}

/// Whitespace of 2.2: CR counts as whitespace so that CRLF files work (divergence 13.1).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{000C}' | '\r')
}

/// How a message quotes a piece of source: control characters escaped, long pieces shortened.
pub fn quote_source(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

struct Lexer<'a> {
    src: &'a str,
    /// Byte offset of the next character.
    at: usize,
    line: u32,
    col: u32,
    tokens: Vec<Token>,
    errors: Vec<CompileError>,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<char> {
        self.src.get(self.at..).and_then(|s| s.chars().next())
    }

    fn peek2(&self) -> Option<char> {
        self.src.get(self.at..).and_then(|s| s.chars().nth(1))
    }

    fn pos(&self) -> Pos {
        Pos::new(self.line, self.col)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else {
            self.col = self.col.saturating_add(1);
        }
        Some(c)
    }

    fn push(&mut self, kind: TokenKind, pos: Pos, start: usize) {
        self.tokens.push(Token {
            kind,
            pos,
            start,
            end: self.at,
        });
    }

    fn unrecognized(&mut self, pos: Pos, start: usize) {
        let text = quote_source(self.src.get(start..self.at).unwrap_or_default());
        self.errors.push(CompileError::new(
            pos,
            format!("அறியப்படாத உள்ளீடு '{text}'"),
            format!("unrecognized input '{text}'"),
        ));
    }

    /// Whether `c` (followed by `next`) begins something the lexer accepts. Used to gather a
    /// run of unrecognized characters into one piece.
    fn starts_token(c: char, next: Option<char>) -> bool {
        is_space(c)
            || is_word_start(c)
            || c.is_ascii_digit()
            || matches!(
                c,
                '"' | '='
                    | '>'
                    | '<'
                    | '+'
                    | '-'
                    | '*'
                    | '/'
                    | '&'
                    | '?'
                    | '['
                    | ']'
                    | '.'
                    | ':'
                    | '('
                    | ')'
                    | '{'
                    | '}'
                    | ','
                    | ';'
            )
            || (c == '!' && next == Some('='))
    }

    fn run(&mut self) {
        if self.src.starts_with('\u{FEFF}') {
            // The BOM is skipped without counting a column (2.1).
            self.at = '\u{FEFF}'.len_utf8();
        }
        while let Some(c) = self.peek() {
            let pos = self.pos();
            let start = self.at;
            if is_space(c) {
                self.bump();
            } else if c == '/' && self.peek2() == Some('/') {
                while let Some(c) = self.peek() {
                    if c == '\n' {
                        break;
                    }
                    self.bump();
                }
            } else if is_word_start(c) {
                while self.peek().is_some_and(is_word_char) {
                    self.bump();
                }
                let word = self.src.get(start..self.at).unwrap_or_default();
                let kind = match keyword(word) {
                    Some(kw) => TokenKind::Kw(kw),
                    None => TokenKind::Ident(Arc::from(word)),
                };
                self.push(kind, pos, start);
            } else if c.is_ascii_digit() {
                self.number(pos, start);
            } else if c == '"' {
                if !self.string(pos, start) {
                    // The rest of the file is inside the broken string; nothing more to read.
                    return;
                }
            } else if let Some(kind) = self.punct(c) {
                self.push(kind, pos, start);
            } else {
                self.bump();
                while let Some(c) = self.peek() {
                    if Self::starts_token(c, self.peek2()) {
                        break;
                    }
                    self.bump();
                }
                self.unrecognized(pos, start);
            }
        }
    }

    fn punct(&mut self, c: char) -> Option<TokenKind> {
        let two = match (c, self.peek2()) {
            ('=', Some('=')) => Some(TokenKind::EqEq),
            ('!', Some('=')) => Some(TokenKind::NotEq),
            ('>', Some('=')) => Some(TokenKind::Ge),
            ('<', Some('=')) => Some(TokenKind::Le),
            _ => None,
        };
        if let Some(kind) = two {
            self.bump();
            self.bump();
            return Some(kind);
        }
        let kind = match c {
            '>' => TokenKind::Gt,
            '<' => TokenKind::Lt,
            '=' => TokenKind::Assign,
            '+' => TokenKind::Plus,
            '-' => TokenKind::Minus,
            '*' => TokenKind::Star,
            '/' => TokenKind::Slash,
            '&' => TokenKind::Amp,
            '?' => TokenKind::Question,
            '[' => TokenKind::LBracket,
            ']' => TokenKind::RBracket,
            '.' => TokenKind::Dot,
            ':' => TokenKind::Colon,
            '(' => TokenKind::LParen,
            ')' => TokenKind::RParen,
            '{' => TokenKind::LBrace,
            '}' => TokenKind::RBrace,
            ',' => TokenKind::Comma,
            ';' => TokenKind::Semi,
            _ => return None,
        };
        self.bump();
        Some(kind)
    }

    fn number(&mut self, pos: Pos, start: usize) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        // A point belongs to the number only when a digit follows (no trailing `.`, 2.6).
        if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        let digits_end = self.at;
        let percent = self.peek() == Some('%');
        if percent {
            self.bump();
        }
        let digits = self.src.get(start..digits_end).unwrap_or_default();
        // `Decimal::from_str` is upstream's literal parser: it rounds excess digits (ties away
        // from zero) and refuses an integer part beyond 2^96 - 1.
        let value = Decimal::from_str(digits).ok().and_then(|d| {
            if percent {
                d.checked_div(Decimal::ONE_HUNDRED)
            } else {
                Some(d)
            }
        });
        match value {
            Some(d) => self.push(TokenKind::Num(d), pos, start),
            None => self.unrecognized(pos, start),
        }
    }

    /// Reads a string literal; false when it is broken, after reporting the error at the
    /// opening quote (2.7).
    fn string(&mut self, pos: Pos, start: usize) -> bool {
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => {
                    self.errors.push(CompileError::new(
                        pos,
                        "முடிவுறாத சொல் (மூடும் \" இல்லை)",
                        "unterminated string",
                    ));
                    return false;
                }
                Some('"') => break,
                Some('\\') => match self.peek() {
                    Some('n') => text.push('\n'),
                    Some('t') => text.push('\t'),
                    Some('r') => text.push('\r'),
                    Some('"') => text.push('"'),
                    Some('\\') => text.push('\\'),
                    Some('\n') | Some('\r') => {
                        self.errors.push(CompileError::new(
                            pos,
                            "முடிவுறாத சொல்: '\\' வரியின் முடிவில் வரக்கூடாது",
                            "unterminated string: a '\\' may not end a line inside a string",
                        ));
                        return false;
                    }
                    None => {
                        self.errors.push(CompileError::new(
                            pos,
                            "முடிவுறாத சொல் (மூடும் \" இல்லை)",
                            "unterminated string",
                        ));
                        return false;
                    }
                    Some(other) => {
                        text.push('\\');
                        text.push(other);
                    }
                },
                Some(c) => {
                    text.push(c);
                    continue;
                }
            }
            // The character after the backslash was consumed by the peek above.
            self.bump();
        }
        self.push(TokenKind::Str(Arc::from(text)), pos, start);
        true
    }
}

/// Splits `src` into tokens, or reports every unrecognized piece (and a broken string).
pub fn lex(src: &str) -> Result<Vec<Token>, Vec<CompileError>> {
    let mut lexer = Lexer {
        src,
        at: 0,
        line: 1,
        col: 1,
        tokens: Vec::new(),
        errors: Vec::new(),
    };
    lexer.run();
    if lexer.errors.is_empty() {
        Ok(lexer.tokens)
    } else {
        Err(lexer.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        lex(src)
            .expect("lexes")
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    fn errors(src: &str) -> Vec<(Pos, String)> {
        lex(src)
            .expect_err("fails")
            .into_iter()
            .map(|e| (e.pos, e.english))
            .collect()
    }

    fn num(s: &str) -> Decimal {
        Decimal::from_str(s).expect("test literal")
    }

    #[test]
    fn every_core_spelling_lexes_to_its_keyword() {
        let table: &[(&str, Kw)] = &[
            ("எண்", Kw::Type(TypeKw::Number)),
            ("eN", Kw::Type(TypeKw::Number)),
            ("பின்னம்", Kw::Type(TypeKw::Decimal)),
            ("piZZam", Kw::Type(TypeKw::Decimal)),
            ("சொல்", Kw::Type(TypeKw::String)),
            ("col", Kw::Type(TypeKw::String)),
            ("உரை", Kw::Type(TypeKw::Text)),
            ("urY", Kw::Type(TypeKw::Text)),
            ("ஈர்ம", Kw::Type(TypeKw::Boolean)),
            ("Irma", Kw::Type(TypeKw::Boolean)),
            ("அணி", Kw::Type(TypeKw::Array)),
            ("aNi", Kw::Type(TypeKw::Array)),
            ("பொருள்", Kw::Type(TypeKw::Record)),
            ("poruL", Kw::Type(TypeKw::Record)),
            ("தரவு", Kw::Type(TypeKw::Data)),
            ("qaravu", Kw::Type(TypeKw::Data)),
            ("தேதி", Kw::Type(TypeKw::Date)),
            ("qEqi", Kw::Type(TypeKw::Date)),
            ("மெய்", Kw::True),
            ("mey", Kw::True),
            ("பொய்", Kw::False),
            ("poy", Kw::False),
            ("இன்மை", Kw::Nil),
            ("iZmY", Kw::Nil),
            ("அச்சு", Kw::Print),
            ("accu", Kw::Print),
            ("எனில்", Kw::If),
            ("eZil", Kw::If),
            ("இன்றேல்", Kw::Else),
            ("iZREl", Kw::Else),
            ("சுற்று", Kw::Loop),
            ("cuRRu", Kw::Loop),
            ("செயல்", Kw::Fn),
            ("ceyal", Kw::Fn),
            ("_fn", Kw::Fn),
            ("திரும்பு", Kw::Return),
            ("qirumpu", Kw::Return),
            ("_return", Kw::Return),
            ("ஒவ்வொரு", Kw::Each),
            ("ovvoru", Kw::Each),
            ("_each", Kw::Each),
            ("இல்", Kw::In),
            ("il", Kw::In),
            ("_in", Kw::In),
            ("இறக்கு", Kw::Import),
            ("iRakku", Kw::Import),
            ("_import", Kw::Import),
            ("மற்றும்", Kw::And),
            ("maRRum", Kw::And),
            ("_and", Kw::And),
            ("அல்லது", Kw::Or),
            ("allaqu", Kw::Or),
            ("_or", Kw::Or),
            ("இல்லை", Kw::Not),
            ("illY", Kw::Not),
            ("_not", Kw::Not),
            ("வழி", Kw::Route),
            ("vazhi", Kw::Route),
            ("_route", Kw::Route),
            ("பதில்", Kw::Response),
            ("paDil", Kw::Response),
            ("_response", Kw::Response),
            ("பெறு", Kw::Method("GET")),
            ("peRu", Kw::Method("GET")),
            ("_get", Kw::Method("GET")),
            ("பதி", Kw::Method("POST")),
            ("paqi", Kw::Method("POST")),
            ("_post", Kw::Method("POST")),
            ("இடு", Kw::Method("PUT")),
            ("itu", Kw::Method("PUT")),
            ("_put", Kw::Method("PUT")),
            ("அழி", Kw::Method("DELETE")),
            ("azi", Kw::Method("DELETE")),
            ("_delete", Kw::Method("DELETE")),
            ("ஒட்டு", Kw::Method("PATCH")),
            ("ottu", Kw::Method("PATCH")),
            ("_patch", Kw::Method("PATCH")),
            ("தெரிவு", Kw::Method("OPTIONS")),
            ("qerivu", Kw::Method("OPTIONS")),
            ("_options", Kw::Method("OPTIONS")),
            ("தலை", Kw::Method("HEAD")),
            ("talY", Kw::Method("HEAD")),
            ("_head", Kw::Method("HEAD")),
        ];
        for (word, kw) in table {
            assert_eq!(kinds(word), vec![TokenKind::Kw(*kw)], "{word}");
        }
        let listed: usize = CORE.iter().map(|(s, _)| s.len()).sum();
        assert_eq!(
            listed,
            table.len(),
            "the test covers every spelling in the table"
        );
    }

    #[test]
    fn every_outside_spelling_is_reserved() {
        assert_eq!(OUTSIDE.len(), 80);
        for spellings in OUTSIDE {
            for s in *spellings {
                assert_eq!(
                    kinds(s),
                    vec![TokenKind::Kw(Kw::Outside(spellings[0]))],
                    "{s}"
                );
            }
        }
        assert_eq!(kinds("_join"), vec![TokenKind::Kw(Kw::Outside("சேர்"))]);
        assert_eq!(kinds("உள்"), vec![TokenKind::Kw(Kw::Outside("உள்"))]);
    }

    #[test]
    fn no_spelling_is_listed_twice() {
        let mut seen = std::collections::HashSet::new();
        for s in CORE
            .iter()
            .flat_map(|(s, _)| s.iter())
            .chain(OUTSIDE.iter().flat_map(|s| s.iter()))
        {
            assert!(seen.insert(*s), "{s} listed twice");
        }
    }

    #[test]
    fn longest_word_wins_and_case_matters() {
        for word in [
            "வரிசைகள்",
            "il2",
            "accuX",
            "EN",
            "en",
            "வரிசை_எண்",
            "உள்ளே",
            "இடைவெளிகள்",
            "வரி",
            "vari",
            "மாறி",
            "நிலை",
        ] {
            assert_eq!(
                kinds(word),
                vec![TokenKind::Ident(Arc::from(word))],
                "{word}"
            );
        }
        assert_eq!(
            kinds("2x"),
            vec![
                TokenKind::Num(Decimal::TWO),
                TokenKind::Ident(Arc::from("x"))
            ]
        );
        // Tamil digits and a leading combining mark are word characters.
        assert_eq!(kinds("௧௨"), vec![TokenKind::Ident(Arc::from("௧௨"))]);
        assert_eq!(kinds("்அ"), vec![TokenKind::Ident(Arc::from("்அ"))]);
    }

    #[test]
    fn numbers_and_percentages_are_exact() {
        assert_eq!(kinds("007"), vec![TokenKind::Num(num("7"))]);
        assert_eq!(kinds("99.99"), vec![TokenKind::Num(num("99.99"))]);
        assert_eq!(kinds("18%"), vec![TokenKind::Num(num("0.18"))]);
        assert_eq!(kinds("12.5%"), vec![TokenKind::Num(num("0.125"))]);
        assert_eq!(kinds("100%"), vec![TokenKind::Num(num("1"))]);
        assert_eq!(
            kinds("1.x"),
            vec![
                TokenKind::Num(Decimal::ONE),
                TokenKind::Dot,
                TokenKind::Ident(Arc::from("x"))
            ]
        );
        assert_eq!(
            kinds("79228162514264337593543950335"),
            vec![TokenKind::Num(Decimal::MAX)]
        );
        assert_eq!(
            kinds("7922816251426433759354395033.55"),
            vec![TokenKind::Num(num("7922816251426433759354395034"))]
        );
        // 29 places: rounded to 28, ties away from zero.
        assert_eq!(
            kinds("0.00000000000000000000000000005"),
            vec![TokenKind::Num(num("0.0000000000000000000000000001"))]
        );
        assert_eq!(
            errors("x = 79228162514264337593543950336;"),
            vec![(
                Pos::new(1, 5),
                "unrecognized input '79228162514264337593543950336'".into()
            )]
        );
        assert_eq!(
            errors("10 % 3"),
            vec![(Pos::new(1, 4), "unrecognized input '%'".into())]
        );
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            kinds(r#""a\nb\t\r\"\\""#),
            vec![TokenKind::Str(Arc::from("a\nb\t\r\"\\"))]
        );
        assert_eq!(
            kinds(r#""C:\kaNakku""#),
            vec![TokenKind::Str(Arc::from("C:\\kaNakku"))]
        );
        assert_eq!(
            kinds("\"a // b\""),
            vec![TokenKind::Str(Arc::from("a // b"))]
        );
        let toks = lex("\"அ\nஆ\" x").expect("lexes");
        assert_eq!(toks[0].kind, TokenKind::Str(Arc::from("அ\nஆ")));
        assert_eq!(toks[1].pos, Pos::new(2, 4));
        assert_eq!(
            errors("x = \"abc"),
            vec![(Pos::new(1, 5), "unterminated string".into())]
        );
        let e = errors("x = 1;\n  y = \"ab\\\ncd\";");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, Pos::new(2, 7));
        assert!(e[0].1.starts_with("unterminated string"));
    }

    #[test]
    fn punctuation_takes_two_characters_first() {
        use TokenKind::*;
        assert_eq!(
            kinds("== != >= <= > < = + - * / & ? [ ] . : ( ) { } , ;"),
            vec![
                EqEq, NotEq, Ge, Le, Gt, Lt, Assign, Plus, Minus, Star, Slash, Amp, Question,
                LBracket, RBracket, Dot, Colon, LParen, RParen, LBrace, RBrace, Comma, Semi
            ]
        );
        assert_eq!(kinds(">=="), vec![Ge, Assign]);
    }

    #[test]
    fn positions_count_code_points() {
        // 068: the '@' after `வருவாய் = 5 ` is at column 13.
        let src = "// குறிப்பு\nகணக்கு_எண் = 1;\nவருவாய் = 5 @ 3;\n";
        assert_eq!(
            errors(src),
            vec![(Pos::new(3, 13), "unrecognized input '@'".into())]
        );
        let toks = lex("வருவாய் = 5 வரி;").expect("lexes");
        assert_eq!(toks[3].pos, Pos::new(1, 13));
        // A BOM is not counted; a tab counts one; CR is whitespace.
        let toks = lex("\u{FEFF}\tx\r\ny").expect("lexes");
        assert_eq!(toks[0].pos, Pos::new(1, 2));
        assert_eq!(toks[1].pos, Pos::new(2, 1));
    }

    #[test]
    fn whitespace_and_comments() {
        assert_eq!(
            kinds("x // அ @ #\n\u{000C}y"),
            vec![
                TokenKind::Ident(Arc::from("x")),
                TokenKind::Ident(Arc::from("y"))
            ]
        );
        assert_eq!(kinds("// only a comment"), vec![]);
        assert_eq!(
            errors("a\u{000B}b"),
            vec![(Pos::new(1, 2), "unrecognized input '\\u{b}'".into())]
        );
        assert_eq!(errors("a\u{00A0}b").len(), 1);
        // A BOM anywhere but the start is not whitespace.
        assert_eq!(errors("a\u{FEFF}").len(), 1);
    }

    #[test]
    fn every_unrecognized_piece_is_reported() {
        let e = errors("x = 1 @ 2;\ny = #;\nz = ! 'a' | 3;");
        let got: Vec<_> = e.iter().map(|(p, m)| (p.line, p.col, m.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (1, 7, "unrecognized input '@'"),
                (2, 5, "unrecognized input '#'"),
                (3, 5, "unrecognized input '!'"),
                (3, 7, "unrecognized input '''"),
                (3, 9, "unrecognized input '''"),
                (3, 11, "unrecognized input '|'"),
            ]
        );
    }
}
