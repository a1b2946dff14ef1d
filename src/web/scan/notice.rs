//! The one short page a scan's follow-up gets: a verdict-coloured headline,
//! a sentence and a link back (a claim's answer, "try again later").

/// A headline, a sentence and one link, in the scan page's style.
#[derive(askama::Template)]
#[template(path = "notice.html")]
pub(super) struct Notice<'a> {
    /// The page's language code.
    pub lang: &'static str,
    /// Where the scan pages are served (for the style sheet).
    pub base: &'a str,
    /// The header's id, for tests and styles: `claim-result`, `busy`.
    pub id: &'static str,
    /// The verdict colour: ok, warn, bad.
    pub class: &'static str,
    /// What happened, for programs reading the page (`data-result`).
    pub result: &'static str,
    /// The headline.
    pub headline: &'static str,
    /// The sentence under it.
    pub detail: String,
    /// The link's target.
    pub back: String,
    /// The link's text.
    pub link: &'static str,
    /// Whether the link is drawn as a button (the one thing to do next).
    pub button: bool,
}
