//! The pages' files, embedded in the crate: one HTML shell, one script with hash routing,
//! one stylesheet, and the login form shown to requests without the token.

/// The page shell; `app.js` draws every view in it.
pub(crate) const INDEX: &str = include_str!("../assets/index.html");
/// The login form (self-contained: its assets would need the token too).
pub(crate) const LOGIN: &str = include_str!("../assets/login.html");

const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");
const FAVICON_SVG: &str = include_str!("../assets/favicon.svg");

/// An asset's content type and body, by file name.
pub(crate) fn get(file: &str) -> Option<(&'static str, &'static str)> {
    Some(match file {
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "style.css" => ("text/css; charset=utf-8", STYLE_CSS),
        "favicon.svg" => ("image/svg+xml", FAVICON_SVG),
        _ => return None,
    })
}
