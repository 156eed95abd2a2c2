//! `telemetry:` — where traces are exported and what they may carry,
//! checked at load like every other setting. The `OTEL_EXPORTER_OTLP_*`
//! variables are read when serving starts (`crate::telemetry`); a key set
//! here overrides its variable.

use std::path::Path;

use super::document::{FORBIDDEN_HEADERS, FileCtx, header_name};
use super::model::{OtlpConfig, OtlpProtocol, RecordPayloads, TelemetryConfig};
use super::raw::{RawOtlp, RawRecordPayloads, RawTelemetry};
use super::sources::{SourceUse, source};

pub(super) fn build(
    raw: Option<&RawTelemetry>,
    base_dir: &Path,
    ctx: &mut FileCtx<'_>,
) -> TelemetryConfig {
    let Some(raw) = raw else {
        return TelemetryConfig::default();
    };
    TelemetryConfig {
        otlp: raw.otlp.as_ref().map(|o| otlp(o, base_dir, ctx)),
        record_payloads: match raw.record_payloads {
            None | Some(RawRecordPayloads::None) => RecordPayloads::None,
            Some(RawRecordPayloads::Redacted) => RecordPayloads::Redacted,
        },
    }
}

fn otlp(raw: &RawOtlp, base_dir: &Path, ctx: &mut FileCtx<'_>) -> OtlpConfig {
    let endpoint = raw.endpoint.as_deref().and_then(|e| match endpoint(e) {
        Ok(url) => Some(url),
        Err(why) => {
            ctx.error("/telemetry/otlp/endpoint", why);
            None
        }
    });
    let protocol = raw.protocol.as_deref().and_then(|p| {
        let parsed = OtlpProtocol::parse(p);
        if parsed.is_none() {
            ctx.error(
                "/telemetry/otlp/protocol",
                format!("unknown OTLP protocol \"{p}\"; expected http/protobuf or grpc"),
            );
        }
        parsed
    });
    let mut headers = Vec::new();
    for (name, src) in &raw.headers {
        let pointer = format!("/telemetry/otlp/headers/{name}");
        let Some(header) = header_name(name, ctx, &pointer) else {
            continue;
        };
        if FORBIDDEN_HEADERS.contains(&header.as_str())
            || matches!(header.as_str(), "content-type" | "content-encoding")
        {
            ctx.error(
                &pointer,
                format!("toolgate sets {header} itself on an export"),
            );
            continue;
        }
        if let Some(def) = source(src, base_dir, ctx, &pointer, SourceUse::Setting) {
            headers.push((header, def));
        }
    }
    OtlpConfig {
        endpoint,
        protocol,
        headers,
    }
}

/// An OTLP base URL (`telemetry.otlp.endpoint` or `OTEL_EXPORTER_OTLP_ENDPOINT`):
/// `http(s)://host[:port][/path]`, no user-info, query or fragment. `Err`
/// says what is wrong, in the user's terms.
pub fn endpoint(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| {
        format!("not a URL ({e}); expected a base URL such as http://127.0.0.1:4318")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err("an OTLP endpoint is an http:// or https:// URL with a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "an OTLP endpoint cannot hold credentials; send them as headers from a source".into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("an OTLP endpoint is a base URL, without a query or fragment".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn endpoints_are_base_urls() {
        assert!(endpoint("http://127.0.0.1:4318").is_ok());
        assert!(endpoint("https://collector.internal/otlp/").is_ok());
        for bad in [
            "127.0.0.1:4318",
            "ftp://collector:21",
            "http://",
            "http://user:pw@collector:4318",
            "http://collector:4318/?k=v",
            "not a url",
        ] {
            assert!(endpoint(bad).is_err(), "{bad} was accepted");
        }
    }
}
