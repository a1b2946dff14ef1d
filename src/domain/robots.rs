//! Link-preview fetchers and crawlers: programs that open a stamp URL when
//! someone shares it in a chat, or when a search engine follows it. They are
//! not people holding a pack, so tem answers them with a preview page and
//! never records their fetch as a scan (a shared link must not make a
//! genuine stamp look copied).
//!
//! Told by user agent. Apps that are also browsers (Zalo and Viber open
//! scanned links in a browser of their own) are robots only when their user
//! agent says so (`bot`, `preview`, `crawl`, or no browser token at all):
//! taking a buyer for a robot would hide a real scan, while a robot taken for
//! a buyer only adds a scan the repeat rules already weigh.

/// A robot family and the lower-case fragments of user agents that name it.
const FAMILIES: &[(&str, &[&str])] = &[
    (
        "facebook",
        &[
            "facebookexternalhit",
            "facebookcatalog",
            "facebot",
            "meta-externalagent",
            "meta-externalfetcher",
        ],
    ),
    ("telegram", &["telegrambot"]),
    ("whatsapp", &["whatsapp/"]),
    ("twitter", &["twitterbot"]),
    ("slack", &["slackbot", "slack-imgproxy"]),
    ("discord", &["discordbot"]),
    ("skype", &["skypeuripreview"]),
    ("linkedin", &["linkedinbot"]),
    (
        "google",
        &[
            "googlebot",
            "google-inspectiontool",
            "googleother",
            "adsbot-google",
            "mediapartners-google",
            "feedfetcher-google",
            "google-pagerenderer",
            "apis-google",
        ],
    ),
    ("bing", &["bingbot", "bingpreview", "msnbot"]),
    ("apple", &["applebot"]),
];

/// Apps with a browser of their own: robots only when the agent says so.
const BROWSING_APPS: &[&str] = &["zalo", "viber"];

/// What only robots write in their user agents.
const ROBOT_WORDS: &[&str] = &["bot", "preview", "crawl", "fetch", "spider"];

/// The family of the robot that sent `user_agent` ("facebook", "zalo",
/// "crawler"…); None for a person's browser or app.
pub fn robot_family(user_agent: &str) -> Option<&'static str> {
    let ua = user_agent.to_ascii_lowercase();
    if let Some((family, _)) = FAMILIES
        .iter()
        .find(|(_, marks)| marks.iter().any(|m| ua.contains(m)))
    {
        return Some(family);
    }
    let says_robot = ROBOT_WORDS.iter().any(|w| ua.contains(w));
    if let Some(app) = BROWSING_APPS.iter().find(|a| ua.contains(*a)) {
        return (says_robot || !ua.contains("mozilla/")).then_some(app);
    }
    // Other crawlers name themselves and give a URL about them
    // ("+http://…"), which no phone browser does.
    (ua.contains("+http") || ua.contains("crawler") || ua.contains("spider")).then_some("crawler")
}

#[cfg(test)]
mod tests {
    use super::robot_family;

    #[test]
    fn preview_fetchers_and_crawlers_are_told_by_their_user_agents() {
        for (ua, family) in [
            (
                "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
                "facebook",
            ),
            ("TelegramBot (like TwitterBot)", "telegram"),
            ("WhatsApp/2.23.20.0 A", "whatsapp"),
            ("Twitterbot/1.0", "twitter"),
            (
                "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
                "slack",
            ),
            (
                "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
                "discord",
            ),
            (
                "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
                "skype",
            ),
            (
                "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
                "linkedin",
            ),
            (
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                "google",
            ),
            (
                "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                "bing",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15 (Applebot/0.1)",
                "apple",
            ),
            ("ZaloBot/1.0 link preview", "zalo"),
            ("Zalo", "zalo"),
            ("Viber/21.0", "viber"),
            (
                "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
                "crawler",
            ),
        ] {
            assert_eq!(robot_family(ua), Some(family), "{ua}");
        }
    }

    #[test]
    fn people_scanning_with_a_phone_are_not_robots() {
        for ua in [
            "Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            // Zalo's own browser, opened by its QR scanner: a buyer.
            "Mozilla/5.0 (Linux; Android 12; Redmi Note 11) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0 Mobile Safari/537.36 Zalo android/12100 ZaloTheme/light ZaloLanguage/vn",
            // Facebook's in-app browser: a person who tapped the link.
            "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/430.0]",
            "Mozilla/5.0 (Linux; Android 11; Viber) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/110.0 Mobile Safari/537.36",
            "",
        ] {
            assert_eq!(robot_family(ua), None, "{ua}");
        }
    }
}
