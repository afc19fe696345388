//! Letters (LANGUAGE.md 4.6): strings are counted, indexed and matched by extended grapheme
//! clusters, as unicode-segmentation's `graphemes(true)` draws them.
//!
//! This module owns counting, indexing and the letter-aligned matching that மாற்று, பிரி, தேடு,
//! தொடங்குகிறதா and முடிகிறதா share (Appendix C: match on bytes, keep a match only when both its
//! ends are cluster boundaries). It knows nothing about `Value`; the builtins convert arguments.
//!
//! ASCII text takes fast paths: there every byte is a letter except that CR LF is one cluster.

use unicode_segmentation::UnicodeSegmentation;

/// True when every byte of `s` starts a letter (ASCII without CR), so byte offsets are letter
/// positions.
fn bytes_are_letters(s: &str) -> bool {
    s.is_ascii() && !s.as_bytes().contains(&b'\r')
}

/// The number of letters in `s`: `letter_count("வணக்கம்")` is 5, `letter_count("a\r\nb")` is 3.
pub fn letter_count(s: &str) -> usize {
    if s.is_ascii() {
        let crlf = s.as_bytes().windows(2).filter(|w| w == b"\r\n").count();
        return s.len() - crlf;
    }
    s.graphemes(true).count()
}

/// The letter at position `i`, if there is one.
pub fn letter_at(s: &str, i: usize) -> Option<&str> {
    if bytes_are_letters(s) {
        return s.get(i..i.checked_add(1)?);
    }
    s.graphemes(true).nth(i)
}

/// The letters of `s`, in order.
pub fn letters(s: &str) -> impl Iterator<Item = &str> {
    s.graphemes(true)
}

/// Byte offsets of every letter start in `s`, followed by `s.len()`: letter `i` is
/// `s[starts[i]..starts[i + 1]]`.
pub fn letter_starts(s: &str) -> Vec<usize> {
    if bytes_are_letters(s) {
        return (0..=s.len()).collect();
    }
    let mut starts: Vec<usize> = s.grapheme_indices(true).map(|(i, _)| i).collect();
    starts.push(s.len());
    starts
}

/// The letters at positions `start..end` (clamped to the text), joined.
pub fn letter_slice(s: &str, start: usize, end: usize) -> &str {
    if bytes_are_letters(s) {
        let end = end.min(s.len());
        let start = start.min(end);
        return &s[start..end];
    }
    let starts = letter_starts(s);
    let last = starts.len() - 1; // starts always holds s.len()
    let end = end.min(last);
    let start = start.min(end);
    &s[starts[start]..starts[end]]
}

/// Which byte offsets of a text are letter boundaries; built in one pass.
struct Boundaries {
    /// None when every char boundary is a letter boundary (ASCII without CR).
    marks: Option<Vec<bool>>,
}

impl Boundaries {
    fn of(s: &str) -> Boundaries {
        if bytes_are_letters(s) {
            return Boundaries { marks: None };
        }
        let mut marks = vec![false; s.len() + 1];
        for (i, _) in s.grapheme_indices(true) {
            marks[i] = true;
        }
        marks[s.len()] = true;
        Boundaries { marks: Some(marks) }
    }

    fn contains(&self, offset: usize) -> bool {
        match &self.marks {
            None => true,
            Some(marks) => marks.get(offset).copied().unwrap_or(false),
        }
    }
}

/// The byte length of the char starting at `offset` of `s` (1 past the end).
fn char_len_at(s: &str, offset: usize) -> usize {
    s[offset..].chars().next().map_or(1, char::len_utf8)
}

/// Start offsets of the non-overlapping, letter-aligned occurrences of `needle` in `hay`,
/// scanning left to right (மாற்று, பிரி). An empty needle has no occurrences.
///
/// A byte match that splits a letter does not count and does not hide an overlapping aligned
/// match after it: scanning resumes one char after its start.
pub fn aligned_matches(hay: &str, needle: &str) -> Vec<usize> {
    let mut found = Vec::new();
    if needle.is_empty() {
        return found;
    }
    let bounds = Boundaries::of(hay);
    let mut pos = 0;
    while let Some(i) = hay[pos..].find(needle) {
        let start = pos + i;
        let end = start + needle.len();
        if bounds.contains(start) && bounds.contains(end) {
            found.push(start);
            pos = end;
        } else {
            pos = start + char_len_at(hay, start);
        }
        if pos > hay.len() {
            break;
        }
    }
    found
}

/// தேடு: the smallest letter position `i` such that the letters of `t` from `i`, as many as `s`
/// has, joined, equal `s`. `""` is found at 0.
pub fn find_letters(t: &str, s: &str) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    let n = letter_count(s);
    let starts = letter_starts(t);
    let mut pos = 0;
    while let Some(i) = t[pos..].find(s) {
        let start = pos + i;
        let end = start + s.len();
        if let Ok(letter) = starts.binary_search(&start) {
            if starts.get(letter + n) == Some(&end) {
                return Some(letter);
            }
        }
        pos = start + char_len_at(t, start);
        if pos > t.len() {
            break;
        }
    }
    None
}

/// Whether the first letters of `t`, as many as `p` has, joined, equal `p`.
pub fn starts_with_letters(t: &str, p: &str) -> bool {
    if !t.starts_with(p) {
        return false;
    }
    let n = letter_count(p);
    letter_starts(t).get(n) == Some(&p.len())
}

/// Whether the last letters of `t`, as many as `p` has, joined, equal `p`.
pub fn ends_with_letters(t: &str, p: &str) -> bool {
    if !t.ends_with(p) {
        return false;
    }
    let n = letter_count(p);
    let starts = letter_starts(t);
    // starts has one entry per letter plus t.len(); the last n letters begin at
    // starts[letters - n].
    let letters_in_t = starts.len() - 1;
    letters_in_t >= n && starts[letters_in_t - n] == t.len() - p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_grapheme_clusters() {
        assert_eq!(letter_count("வணக்கம்"), 5);
        assert_eq!(letter_count("a\r\nb"), 3);
        assert_eq!(letter_count(""), 0);
        assert_eq!(letter_count("abc"), 3);
        assert_eq!(letter_count("\r\r\n"), 2);
        assert_eq!(letter_at("வணக்கம்", 1), Some("ண"));
        assert_eq!(letter_at("வணக்கம்", 2), Some("க்"));
        assert_eq!(letter_at("வணக்கம்", 5), None);
        assert_eq!(letter_at("a\r\nb", 1), Some("\r\n"));
        assert_eq!(letter_at("a\r\nb", 2), Some("b"));
        assert_eq!(letter_at("abc", 3), None);
        assert_eq!(letters("கா1").collect::<Vec<_>>(), vec!["கா", "1"]);
    }

    #[test]
    fn slices_count_letters() {
        assert_eq!(letter_slice("வணக்கம் உலகம்", 0, 5), "வணக்கம்");
        assert_eq!(letter_slice("abcdef", 2, 5), "cde");
        assert_eq!(letter_slice("abc", 1, 10), "bc");
        assert_eq!(letter_slice("abc", 5, 7), "");
        assert_eq!(letter_slice("a\r\nb", 1, 2), "\r\n");
    }

    #[test]
    fn matches_keep_only_letter_aligned_occurrences() {
        assert_eq!(aligned_matches("கா", "ா"), Vec::<usize>::new());
        assert_eq!(aligned_matches("aaa", "a"), vec![0, 1, 2]);
        assert_eq!(aligned_matches("a--b---c", "--"), vec![1, 4]);
        assert_eq!(aligned_matches("abc", ""), Vec::<usize>::new());
        assert_eq!(aligned_matches("a\r\nb", "\n"), Vec::<usize>::new());
        assert_eq!(aligned_matches("க்க", "க"), vec![6]);
    }

    #[test]
    fn find_counts_letter_positions() {
        assert_eq!(find_letters("வணக்கம் உலகம்", "உலகம்"), Some(6));
        assert_eq!(find_letters("GSTIN-GSTIN", "IN"), Some(3));
        assert_eq!(find_letters("abc", "z"), None);
        assert_eq!(find_letters("abc", ""), Some(0));
        assert_eq!(find_letters("", ""), Some(0));
        assert_eq!(find_letters("கா", "க"), None);
        assert_eq!(find_letters("காக", "க"), Some(1));
    }

    #[test]
    fn prefixes_and_suffixes_are_whole_letters() {
        assert!(starts_with_letters("INV-2026-001", "INV"));
        assert!(ends_with_letters("INV-2026-001", "001"));
        assert!(!ends_with_letters("a", "abc"));
        assert!(!starts_with_letters("கா", "க"));
        assert!(!ends_with_letters("கா", "ா"));
        assert!(ends_with_letters("அகா", "கா"));
        assert!(starts_with_letters("abc", ""));
        assert!(ends_with_letters("abc", ""));
    }
}
