//! Product descriptions are rich text: a small, safe subset of HTML. Whatever a seller sends is
//! cleaned here, on the way into the log, so every reader (the portals, the API, the lake) gets
//! markup that cannot run script or load anything. Plain text (no tags at all) becomes paragraphs.

use std::collections::HashSet;

const TAGS: [&str; 16] = [
    "p",
    "br",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "ul",
    "ol",
    "li",
    "h3",
    "h4",
    "blockquote",
    "a",
    "code",
    "pre",
];

/// The description as it is stored: safe HTML.
pub fn sanitize(input: &str) -> String {
    let input = input.trim();
    if input.is_empty() {
        return String::new();
    }
    if !looks_like_html(input) {
        return paragraphs(input);
    }
    ammonia::Builder::default()
        .tags(HashSet::from(TAGS))
        .tag_attributes(Default::default())
        .add_tag_attributes("a", ["href"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("nofollow noopener noreferrer ugc"))
        .clean(input)
        .to_string()
}

/// Whether the text uses markup at all: an opening or closing tag of a known element (so "5 < 6"
/// or "<by hand>" stay text).
fn looks_like_html(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["script", "style", "img", "div", "span", "iframe"]
        .iter()
        .chain(TAGS.iter())
        .any(|tag| {
            lower.contains(&format!("<{tag}>"))
                || lower.contains(&format!("<{tag} "))
                || lower.contains(&format!("</{tag}>"))
                || lower.contains(&format!("<{tag}/"))
        })
}

/// The words of a description without markup, for search and summaries.
pub fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn paragraphs(text: &str) -> String {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", escape(p).replace('\n', "<br>")))
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_and_handlers_are_removed_and_formatting_kept() {
        let clean = sanitize(
            r#"<p onclick="steal()">Hand <strong>made</strong><script>alert(1)</script></p><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a><a href="https://maker.example">maker</a>"#,
        );
        assert!(!clean.contains("script") && !clean.contains("onclick"));
        assert!(!clean.contains("onerror") && !clean.contains("<img"));
        assert!(!clean.contains("javascript:"));
        assert!(clean.contains("<strong>made</strong>"), "{clean}");
        assert!(
            clean.contains(r#"<a href="https://maker.example" rel="nofollow noopener noreferrer ugc">maker</a>"#),
            "{clean}"
        );
    }

    #[test]
    fn plain_text_becomes_escaped_paragraphs() {
        assert_eq!(
            sanitize("Fits 350 ml & more.\nDishwasher safe.\n\nMade <by hand>"),
            "<p>Fits 350 ml &amp; more.<br>Dishwasher safe.</p><p>Made &lt;by hand&gt;</p>"
        );
        assert_eq!(sanitize("   "), "");
    }

    #[test]
    fn plain_text_drops_markup() {
        assert_eq!(
            plain_text("<p>Blue&nbsp;<strong>mug</strong></p><p>&lt;3 &amp; more</p>"),
            "Blue mug <3 & more"
        );
    }
}
