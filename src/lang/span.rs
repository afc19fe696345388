//! Source positions. Lines and columns start at 1; a column counts Unicode scalar values
//! (code points) from the start of the line, as LANGUAGE.md 2.3 requires. A BOM is not counted.

use std::fmt;

/// A point in a source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub const fn new(line: u32, col: u32) -> Pos {
        Pos { line, col }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.col)
    }
}

/// Index of a source file in a program's file table (0 = the main file; imports follow).
pub type FileId = u16;

/// Where a syntax node starts: the file and the position of its first token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub pos: Pos,
}

impl Span {
    pub const fn new(file: FileId, pos: Pos) -> Span {
        Span { file, pos }
    }
}

/// Formats a located message in the bilingual form of LANGUAGE.md 11.1:
/// `வரி L, நெடுவரிசை C: <tamil>  (line L, column C: <english>)`.
pub fn bilingual_at(pos: Pos, tamil: &str, english: &str) -> String {
    format!(
        "வரி {l}, நெடுவரிசை {c}: {tamil}  (line {l}, column {c}: {english})",
        l = pos.line,
        c = pos.col
    )
}

/// The same without a position: `<tamil>  (<english>)`.
pub fn bilingual(tamil: &str, english: &str) -> String {
    format!("{tamil}  ({english})")
}
