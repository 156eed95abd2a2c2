//! The console's pages: templates and one style sheet, embedded in the
//! binary. Every value is escaped by the template engine (the templates are
//! `.html`, so auto-escaping is on): arguments and bodies are hostile input.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, Value};

use crate::error::ApiError;

pub(super) const STYLE: &str = include_str!("templates/console.css");

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    let pages = [
        ("base.html", include_str!("templates/base.html")),
        ("login.html", include_str!("templates/login.html")),
        ("home.html", include_str!("templates/home.html")),
        ("queue.html", include_str!("templates/queue.html")),
        ("action.html", include_str!("templates/action.html")),
        ("edit.html", include_str!("templates/edit.html")),
        ("history.html", include_str!("templates/history.html")),
        (
            "dead_letters.html",
            include_str!("templates/dead_letters.html"),
        ),
        (
            "credentials.html",
            include_str!("templates/credentials.html"),
        ),
        ("message.html", include_str!("templates/message.html")),
        ("agents.html", include_str!("templates/agents.html")),
        ("audit.html", include_str!("templates/audit.html")),
        (
            "access_review.html",
            include_str!("templates/access_review.html"),
        ),
        ("signed_in.html", include_str!("templates/signed_in.html")),
    ];
    for (name, text) in pages {
        // The templates are part of the binary; a broken one fails every test.
        env.add_template(name, text)
            .expect("an embedded console template parses");
    }
    env
});

/// A rendered page, with its status.
#[derive(Debug)]
pub(super) struct Page {
    status: StatusCode,
    html: String,
}

impl Page {
    pub(super) fn render(status: StatusCode, name: &str, ctx: Value) -> Page {
        let rendered = TEMPLATES.get_template(name).and_then(|t| t.render(ctx));
        match rendered {
            Ok(html) => Page { status, html },
            Err(e) => {
                tracing::error!(template = name, error = %e, "a console page could not be rendered");
                Page {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    html:
                        "<!doctype html><title>toolgate</title><p>This page could not be shown.</p>"
                            .into(),
                }
            }
        }
    }

    /// A page that says what went wrong and how to go on; `who` is the
    /// signed-in person, if any (for the navigation).
    pub(super) fn message(status: StatusCode, title: &str, text: &str, who: Option<&str>) -> Page {
        Page::render(
            status,
            "message.html",
            minijinja::context! { title, text, who, status => status.as_u16() },
        )
    }

    /// The page for an error the API would have answered with: its message
    /// (safe for the caller) and status; what is internal goes to the log.
    pub(super) fn from_error(e: &ApiError, who: Option<&str>) -> Page {
        if let Some(internal) = &e.internal {
            tracing::warn!(code = e.code.as_str(), detail = %internal, "console request failed");
        }
        let title = match e.code.status().as_u16() {
            404 => "Not found",
            409 | 410 => "No longer possible",
            429 => "Too many attempts",
            400 | 422 => "Not accepted",
            401 | 403 => "Not allowed",
            _ => "Something went wrong",
        };
        let text = format!("{} ({})", e.message, e.code.as_str());
        Page::message(e.code.status(), title, &text, who)
    }

    pub(super) fn not_found(who: Option<&str>) -> Page {
        Page::message(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is nothing here, or nothing you may see.",
            who,
        )
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut r = (self.status, self.html).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_parses_and_values_are_escaped() {
        let p = Page::message(
            StatusCode::OK,
            "<img src=x onerror=alert(1)>",
            "</script>",
            None,
        );
        assert_eq!(p.status, StatusCode::OK);
        assert!(p.html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(!p.html.contains("<img"));
        assert!(!p.html.contains("</script>"));
        for name in [
            "base.html",
            "login.html",
            "home.html",
            "queue.html",
            "action.html",
            "edit.html",
            "history.html",
            "dead_letters.html",
            "credentials.html",
            "message.html",
            "agents.html",
            "audit.html",
            "access_review.html",
            "signed_in.html",
        ] {
            TEMPLATES.get_template(name).expect(name);
        }
    }
}
