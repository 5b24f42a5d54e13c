//! Text analysis for the alert store.
//!
//! - [`FOLDED`]: words of the message and the rule title, lowercased and with their diacritics
//!   folded, so that `dang nhap that bai` finds `Đăng nhập thất bại` and `Đăng nhập` still finds
//!   it (both sides are folded). Vietnamese arrives composed (NFC) or decomposed (NFD, a base
//!   letter and combining marks); both give the same words.
//! - [`KEYWORD`]: a whole value as one term, lowercased (`host:WEB01` finds `web01`).
//! - tantivy's `raw`: a whole value as one term, exactly (identifiers: rule id, agency, province).

use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RawTokenizer, RemoveLongFilter, TextAnalyzer, Token, TokenStream, Tokenizer,
    TokenizerManager,
};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The folded word analyzer's name.
pub const FOLDED: &str = "vigil_folded";
/// The lowercased whole-value analyzer's name.
pub const KEYWORD: &str = "vigil_keyword";

/// Words longer than this (bytes, after folding) are not indexed: base64 blobs and the like.
const MAX_WORD: usize = 100;

/// Registers vigil's analyzers with an index's tokenizer managers.
pub fn register(tokenizers: &TokenizerManager, fast_field_tokenizers: &TokenizerManager) {
    tokenizers.register(
        FOLDED,
        TextAnalyzer::builder(FoldingTokenizer::default())
            .filter(AsciiFoldingFilter)
            .filter(RemoveLongFilter::limit(MAX_WORD))
            .build(),
    );
    let keyword = || TextAnalyzer::builder(RawTokenizer::default()).filter(LowerCaser).build();
    tokenizers.register(KEYWORD, keyword());
    fast_field_tokenizers.register(KEYWORD, keyword());
}

/// Folds one word as the [`FOLDED`] analyzer does: lowercase, combining marks removed, then
/// letters like `đ` and `ø` mapped to ASCII.
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    fold_into(word, &mut out);
    let mut analyzer = TextAnalyzer::builder(RawTokenizer::default()).filter(AsciiFoldingFilter).build();
    let mut stream = analyzer.token_stream(&out);
    let folded = stream.next().map(|token| token.text.clone());
    drop(stream);
    folded.unwrap_or(out)
}

fn fold_into(word: &str, out: &mut String) {
    if word.is_ascii() {
        out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        return;
    }
    for c in word.nfd().filter(|c| !is_combining_mark(*c)) {
        out.extend(c.to_lowercase());
    }
}

/// Splits text into words (runs of letters, digits and combining marks) and folds each: see
/// [`fold`]. The ASCII folding of letters without a decomposition (`đ`) is the filter after it.
#[derive(Clone, Default)]
pub struct FoldingTokenizer {
    token: Token,
}

pub struct FoldingStream<'a> {
    text: &'a str,
    chars: std::str::CharIndices<'a>,
    token: &'a mut Token,
}

impl Tokenizer for FoldingTokenizer {
    type TokenStream<'a> = FoldingStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> FoldingStream<'a> {
        self.token.reset();
        FoldingStream { text, chars: text.char_indices(), token: &mut self.token }
    }
}

fn in_word(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

impl TokenStream for FoldingStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.text.clear();
        self.token.position = self.token.position.wrapping_add(1);
        while let Some((from, c)) = self.chars.next() {
            if !c.is_alphanumeric() {
                continue;
            }
            let to = self.chars.find(|(_, c)| !in_word(*c)).map_or(self.text.len(), |(i, _)| i);
            self.token.offset_from = from;
            self.token.offset_to = to;
            fold_into(&self.text[from..to], &mut self.token.text);
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let manager = TokenizerManager::default();
        register(&manager, &TokenizerManager::default());
        let mut analyzer = manager.get(FOLDED).expect("registered");
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(t) = stream.next() {
            out.push(t.text.clone());
        }
        out
    }

    #[test]
    fn vietnamese_is_folded_composed_or_decomposed() {
        let composed = "Đăng nhập thất bại: người dùng Nguyễn Văn Ánh";
        let decomposed: String = composed.nfd().collect();
        assert_ne!(composed, decomposed);
        let want = ["dang", "nhap", "that", "bai", "nguoi", "dung", "nguyen", "van", "anh"];
        assert_eq!(words(composed), want);
        assert_eq!(words(&decomposed), want);
        assert_eq!(words("dang nhap THAT bai"), ["dang", "nhap", "that", "bai"]);
    }

    #[test]
    fn log_text_splits_on_punctuation_and_drops_huge_words() {
        assert_eq!(
            words("Failed password for root from 203.0.113.9 port 22"),
            ["failed", "password", "for", "root", "from", "203", "0", "113", "9", "port", "22"]
        );
        let blob = "A".repeat(150);
        assert_eq!(words(&format!("x {blob} y")), ["x", "y"]);
    }

    #[test]
    fn fold_matches_the_analyzer() {
        for w in ["Đăng", "ĐĂNG", "thất", "Øre", "plain"] {
            assert_eq!(vec![fold(w)], words(w), "{w}");
        }
    }
}
