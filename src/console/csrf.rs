//! Refusing forged form posts. Every POST must come from the console's own
//! pages: `Sec-Fetch-Site` decides when the browser sends it (anything but
//! `same-origin` is refused); otherwise `Origin` must be the console's own
//! origin (`null` never matches); a request with neither is refused. A
//! signed-in POST must also carry its session's token, compared in
//! constant time.

use std::collections::HashMap;

use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::session::Person;
use super::templates::Page;
use crate::gateway::Gateway;

/// The origin the console is served at: `public_url`'s, else the scheme
/// of this listener and the request's `Host`.
fn own_origin(gw: &Gateway, headers: &HeaderMap) -> Option<String> {
    if let Some(url) = &gw.config.public_url {
        return url::Url::parse(url)
            .ok()
            .map(|u| u.origin().ascii_serialization());
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let scheme = if gw.tls.is_some() { "https" } else { "http" };
    let u = url::Url::parse(&format!("{scheme}://{host}")).ok()?;
    (u.path() == "/" && u.username().is_empty()).then(|| u.origin().ascii_serialization())
}

/// Whether a POST comes from the console's own origin.
pub(super) fn same_origin(gw: &Gateway, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    origin != "null" && own_origin(gw, headers).is_some_and(|own| own == origin)
}

/// Whether the token a form carried is the session's.
pub(super) fn token_matches(expected: &str, given: Option<&str>) -> bool {
    given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(expected.as_bytes())))
}

/// A form post's fields (`application/x-www-form-urlencoded`); a field
/// given twice keeps its first value.
#[derive(Debug, Default)]
pub(super) struct Form(HashMap<String, String>);

impl Form {
    pub(super) fn parse(body: &[u8]) -> Form {
        let mut fields = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            fields
                .entry(k.into_owned())
                .or_insert_with(|| v.into_owned());
        }
        Form(fields)
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// A signed-in POST, checked: the session it belongs to and its form, or
/// the page that refuses it (sign-in, or a refused post).
pub(super) async fn posted(
    gw: &Gateway,
    parts: &Parts,
    body: &[u8],
) -> Result<(Person, Form), Response> {
    let person = super::session::required(gw, parts).await?;
    let form = Form::parse(body);
    check(gw, &parts.headers, &person, &form).map_err(IntoResponse::into_response)?;
    Ok((person, form))
}

/// A signed-in POST: from the console's own origin, carrying its session's token.
fn check(gw: &Gateway, headers: &HeaderMap, person: &Person, form: &Form) -> Result<(), Page> {
    if !same_origin(gw, headers) {
        return Err(refused(
            Some(person.name()),
            "it did not come from this console's own pages",
        ));
    }
    if !token_matches(&person.csrf, form.get("csrf")) {
        return Err(refused(
            Some(person.name()),
            "it did not carry this session's form token",
        ));
    }
    Ok(())
}

/// The page for a refused form post.
pub(super) fn refused(who: Option<&str>, why: &str) -> Page {
    Page::message(
        StatusCode::FORBIDDEN,
        "Form refused",
        &format!("This form was refused because {why}. Reload the page and try again."),
        who,
    )
}

#[cfg(test)]
mod tests {
    use super::{Form, token_matches};

    #[test]
    fn a_form_keeps_the_first_of_a_repeated_field() {
        let f = Form::parse(b"reason=a+b%26c&csrf=x&reason=second");
        assert_eq!(f.get("reason"), Some("a b&c"));
        assert_eq!(f.get("csrf"), Some("x"));
        assert_eq!(f.get("none"), None);
    }

    #[test]
    fn only_the_session_s_own_token_matches() {
        assert!(token_matches("abc", Some("abc")));
        assert!(!token_matches("abc", Some("abd")));
        assert!(!token_matches("abc", Some("")));
        assert!(!token_matches("abc", None));
    }
}
