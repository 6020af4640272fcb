//! Plant-file parsing never panics, and every error carries a location inside the text.

use doppel_model::Plant;
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../../plants/example.toml");

fn check(text: &str) {
    if let Err(e) = Plant::parse(text, "mutated.toml") {
        assert!(!e.diagnostics().is_empty());
        for d in e.diagnostics() {
            assert!(d.line <= text.lines().count() + 1, "{d} beyond the text");
            assert!(d.to_string().starts_with("mutated.toml:"), "{d}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(&text);
    }

    #[test]
    fn mutated_example_never_panics(cut in 0usize..EXAMPLE.len(), len in 0usize..40, insert in "[a-z0-9\\[\\]{}=\".,\\- \\n]{0,12}") {
        let mut start = cut;
        while !EXAMPLE.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(EXAMPLE.len());
        while !EXAMPLE.is_char_boundary(end) { end -= 1; }
        let text = format!("{}{}{}", &EXAMPLE[..start], insert, &EXAMPLE[end..]);
        check(&text);
    }
}
