//! Traces over OTLP: where they go (`telemetry.otlp`, then the standard
//! `OTEL_EXPORTER_OTLP_*` variables), the batch exporter that sends them
//! through [`Scrubbing`], and its flush at shutdown.
//!
//! Export is on only when an endpoint is configured or set in the
//! environment; otherwise nothing is built and the spans of
//! `telemetry::spans` stay disabled. Header values are secrets: read from
//! their sources into `SecretString`s, known to the redactor, never printed,
//! and set on every export last, so the config's win over the environment's.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;

use super::scrub::Scrubbing;
use super::spans::TARGET;
use crate::config::{OtlpProtocol, TelemetryConfig};
use crate::redact::SharedRedactor;
use crate::secrets::{Credentials, EnvSource};

/// The standard variables, in the order they are consulted.
const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
const TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
const HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";

/// Largest answer read from a collector.
const MAX_ANSWER: usize = 64 * 1024;

/// Where and how spans are exported, once config and environment are merged.
pub struct Resolved {
    pub protocol: OtlpProtocol,
    /// The URL spans are sent to (`…/v1/traces` for HTTP).
    pub url: String,
    pub headers: Vec<(HeaderName, SecretString)>,
}

impl std::fmt::Debug for Resolved {
    /// Header names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("protocol", &self.protocol)
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Merge `telemetry.otlp` over the environment. `Ok(None)`: no endpoint
/// anywhere, nothing is exported. `Err` names the setting that is wrong.
pub fn resolve(config: &TelemetryConfig, env: &dyn EnvSource) -> Result<Option<Resolved>, String> {
    let otlp = config.otlp.clone().unwrap_or_default();
    let var = |name: &str| env.var(name).filter(|v| !v.trim().is_empty());
    let protocol = match otlp.protocol {
        Some(p) => p,
        None => match var(TRACES_PROTOCOL)
            .map(|v| (TRACES_PROTOCOL, v))
            .or_else(|| var(PROTOCOL).map(|v| (PROTOCOL, v)))
        {
            None => OtlpProtocol::HttpProtobuf,
            Some((name, v)) => OtlpProtocol::parse(v.trim()).ok_or_else(|| {
                format!(
                    "{name}: unknown OTLP protocol \"{}\"; expected http/protobuf or grpc",
                    v.trim()
                )
            })?,
        },
    };
    let base = |url: url::Url| match protocol {
        OtlpProtocol::HttpProtobuf => {
            let mut s = url.to_string();
            if !s.ends_with('/') {
                s.push('/');
            }
            s + "v1/traces"
        }
        OtlpProtocol::Grpc => url.to_string(),
    };
    let url = if let Some(url) = otlp.endpoint {
        base(url)
    } else if let Some(v) = var(TRACES_ENDPOINT) {
        crate::config::telemetry::endpoint(v.trim())
            .map_err(|why| format!("{TRACES_ENDPOINT}: {why}"))?
            .to_string()
    } else if let Some(v) = var(ENDPOINT) {
        base(
            crate::config::telemetry::endpoint(v.trim())
                .map_err(|why| format!("{ENDPOINT}: {why}"))?,
        )
    } else {
        return Ok(None);
    };
    let mut headers: Vec<(HeaderName, SecretString)> = Vec::new();
    if let Some((name, list)) = var(TRACES_HEADERS)
        .map(|v| (TRACES_HEADERS, v))
        .or_else(|| var(HEADERS).map(|v| (HEADERS, v)))
    {
        for (k, v) in env_headers(&list).map_err(|why| format!("{name}: {why}"))? {
            put(&mut headers, k, v);
        }
    }
    for (name, source) in &otlp.headers {
        let value = Credentials::read_source(source, env).ok_or_else(|| {
            format!(
                "telemetry.otlp.headers.{name}: cannot read {}",
                source.describe()
            )
        })?;
        put(&mut headers, name.clone(), value);
    }
    Ok(Some(Resolved {
        protocol,
        url,
        headers,
    }))
}

fn put(headers: &mut Vec<(HeaderName, SecretString)>, name: HeaderName, value: SecretString) {
    headers.retain(|(n, _)| *n != name);
    headers.push((name, value));
}

/// `name=value,name=value`, values percent-encoded (the variables' format).
fn env_headers(list: &str) -> Result<Vec<(HeaderName, SecretString)>, String> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((k, v)) = item.split_once('=') else {
            return Err("expected name=value pairs separated by commas".into());
        };
        let name = HeaderName::from_bytes(k.trim().as_bytes())
            .map_err(|_| format!("\"{}\" is not a valid header name", k.trim()))?;
        let value = percent_encoding::percent_decode_str(v.trim())
            .decode_utf8()
            .map_err(|_| format!("the value of {name} is not UTF-8 once decoded"))?;
        out.push((name, SecretString::from(value.into_owned())));
    }
    Ok(out)
}

/// The running exporter, kept by whoever serves until it stops.
pub struct Traces {
    provider: SdkTracerProvider,
    headers: Vec<(HeaderName, SecretString)>,
    url: String,
    protocol: OtlpProtocol,
}

impl std::fmt::Debug for Traces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traces").finish_non_exhaustive()
    }
}

impl Traces {
    /// Build the exporter when an endpoint is configured; must run inside the
    /// Tokio runtime that will carry the exports.
    pub fn start(
        config: &TelemetryConfig,
        env: &dyn EnvSource,
        redactor: Arc<SharedRedactor>,
    ) -> anyhow::Result<Option<Traces>> {
        let Some(resolved) = resolve(config, env).map_err(|why| anyhow::anyhow!(why))? else {
            return Ok(None);
        };
        let headers: Vec<(HeaderName, HeaderValue)> = resolved
            .headers
            .iter()
            .map(|(n, v)| {
                let mut value = HeaderValue::from_str(v.expose_secret()).map_err(|_| {
                    anyhow::anyhow!("the value of OTLP header {n} is not a valid header value")
                })?;
                value.set_sensitive(true);
                Ok((n.clone(), value))
            })
            .collect::<anyhow::Result<_>>()?;
        let exporter = match resolved.protocol {
            OtlpProtocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(resolved.url.clone())
                .with_http_client(Http::new(headers)?)
                .build(),
            OtlpProtocol::Grpc => {
                let mut builder = opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_protocol(Protocol::Grpc)
                    .with_endpoint(resolved.url.clone())
                    .with_interceptor(Metadata::new(&headers)?);
                if resolved.url.starts_with("https:") {
                    builder = builder.with_tls_config(
                        tonic::transport::ClientTlsConfig::new().with_webpki_roots(),
                    );
                }
                builder.build()
            }
        }
        .map_err(|e| anyhow::anyhow!("cannot export traces to {}: {e}", resolved.url))?;
        let mut resource = Resource::builder().with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ));
        if env.var("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name("toolgate");
        }
        let provider = SdkTracerProvider::builder()
            .with_resource(resource.build())
            .with_batch_exporter(Scrubbing::new(exporter, redactor))
            .build();
        Ok(Some(Traces {
            provider,
            headers: resolved.headers,
            url: resolved.url,
            protocol: resolved.protocol,
        }))
    }

    /// The `tracing` layer that turns toolgate's spans into OTLP spans (put
    /// behind [`only_traced`]).
    pub(crate) fn layer<S>(&self) -> impl Layer<S>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("toolgate"))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_level(false)
            .with_target(false)
    }

    /// Once the gateway is built: make the header values known to the
    /// redactor, and say where traces go.
    pub fn known_to(&self, credentials: &Credentials) {
        for (name, value) in &self.headers {
            credentials.remember_extra(&format!("otlp-header-{name}"), value);
        }
        tracing::info!(url = %self.url, protocol = ?self.protocol, "exporting traces over OTLP");
    }

    /// Export what is still batched, then stop.
    pub async fn shutdown(self) {
        let provider = self.provider;
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "traces not flushed at shutdown"),
            Err(_) => tracing::warn!("traces not flushed at shutdown"),
        }
    }
}

/// What the trace layer sees: the spans of `telemetry::spans`, and
/// toolgate's events inside them — nothing at all when `on` is false, so
/// without an exporter those spans are disabled where they are made.
pub(crate) fn only_traced<S>(on: bool) -> impl tracing_subscriber::layer::Filter<S> {
    filter_fn(move |meta| {
        on && if meta.is_span() {
            meta.target() == TARGET
        } else {
            meta.target().starts_with("toolgate") && *meta.level() <= tracing::Level::INFO
        }
    })
}

/// OTLP over HTTP with toolgate's reqwest, on the serving runtime: the
/// batch exporter's thread waits for the answer; proxies are ignored and
/// redirects not followed, as for upstreams.
#[derive(Debug)]
struct Http {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    headers: Arc<Vec<(HeaderName, HeaderValue)>>,
}

impl Http {
    fn new(headers: Vec<(HeaderName, HeaderValue)>) -> anyhow::Result<Http> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Http {
            client,
            runtime: tokio::runtime::Handle::try_current()?,
            headers: Arc::new(headers),
        })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Http {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        let (mut parts, body) = request.into_parts();
        for (name, value) in self.headers.iter() {
            parts.headers.insert(name.clone(), value.clone());
        }
        let request = reqwest::Request::try_from(http::Request::from_parts(parts, body))?;
        let client = self.client.clone();
        let answer = self.runtime.spawn(async move {
            let mut response = client.execute(request).await?;
            let status = response.status();
            let headers = std::mem::take(response.headers_mut());
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_ANSWER {
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>((status, headers, body))
        });
        let (status, headers, body) = answer.await??;
        let mut response = http::Response::new(Bytes::from(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

/// Sets the configured headers on every gRPC export, over any the
/// exporter took from the environment.
#[derive(Clone)]
struct Metadata(
    Arc<
        Vec<(
            tonic::metadata::AsciiMetadataKey,
            tonic::metadata::AsciiMetadataValue,
        )>,
    >,
);

impl Metadata {
    fn new(headers: &[(HeaderName, HeaderValue)]) -> anyhow::Result<Metadata> {
        let mut out = Vec::new();
        for (n, v) in headers {
            let key = tonic::metadata::AsciiMetadataKey::from_bytes(n.as_str().as_bytes())
                .map_err(|_| anyhow::anyhow!("OTLP header {n} cannot be gRPC metadata"))?;
            let value =
                tonic::metadata::AsciiMetadataValue::try_from(v.as_bytes()).map_err(|_| {
                    anyhow::anyhow!("the value of OTLP header {n} cannot be gRPC metadata")
                })?;
            out.push((key, value));
        }
        Ok(Metadata(Arc::new(out)))
    }
}

impl tonic::service::Interceptor for Metadata {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        for (k, v) in self.0.iter() {
            request.metadata_mut().insert(k.clone(), v.clone());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::{OtlpConfig, SourceDef};
    use crate::secrets::MapEnv;

    fn env(vars: &[(&str, &str)]) -> MapEnv {
        MapEnv::new(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<HashMap<_, _>>(),
        )
    }

    fn configured(endpoint: Option<&str>, protocol: Option<OtlpProtocol>) -> TelemetryConfig {
        TelemetryConfig {
            otlp: Some(OtlpConfig {
                endpoint: endpoint.map(|e| url::Url::parse(e).unwrap()),
                protocol,
                headers: vec![(
                    HeaderName::from_static("x-token"),
                    SourceDef::Env("TOKEN".into()),
                )],
            }),
            ..TelemetryConfig::default()
        }
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint() {
        assert!(
            resolve(&TelemetryConfig::default(), &env(&[]))
                .unwrap()
                .is_none()
        );
        let headers_only = configured(None, None);
        assert!(
            resolve(&headers_only, &env(&[("TOKEN", "t")]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_config_wins_over_the_environment() {
        let e = env(&[
            ("TOKEN", "from-source"),
            (ENDPOINT, "http://env.example:4318"),
            (PROTOCOL, "grpc"),
            (HEADERS, "x-token=from-env,x-other=o%2Cther"),
        ]);
        let r = resolve(&configured(Some("http://cfg.example:4318"), None), &e)
            .unwrap()
            .unwrap();
        // The protocol came from the environment, the endpoint from the config.
        assert_eq!(r.protocol, OtlpProtocol::Grpc);
        assert_eq!(r.url, "http://cfg.example:4318/");
        let r = resolve(
            &configured(
                Some("http://cfg.example:4318/base"),
                Some(OtlpProtocol::HttpProtobuf),
            ),
            &e,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.url, "http://cfg.example:4318/base/v1/traces");
        let shown: Vec<(String, String)> = r
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.expose_secret().to_owned()))
            .collect();
        assert!(
            shown.contains(&("x-token".into(), "from-source".into())),
            "{shown:?}"
        );
        assert!(
            shown.contains(&("x-other".into(), "o,ther".into())),
            "{shown:?}"
        );
        assert_eq!(shown.len(), 2);
        assert!(!format!("{r:?}").contains("from-source"));
    }

    #[test]
    fn the_environment_alone_is_read_as_the_standard_says() {
        let r = resolve(
            &TelemetryConfig::default(),
            &env(&[(ENDPOINT, "http://c:4318")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (r.protocol, r.url.as_str()),
            (OtlpProtocol::HttpProtobuf, "http://c:4318/v1/traces")
        );
        // The per-signal variable is the URL itself.
        let r = resolve(
            &TelemetryConfig::default(),
            &env(&[
                (ENDPOINT, "http://c:4318"),
                (TRACES_ENDPOINT, "http://t:9/x"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.url, "http://t:9/x");
        for bad in [
            vec![(ENDPOINT, "c:4318")],
            vec![(ENDPOINT, "http://c:4318"), (PROTOCOL, "http/json")],
            vec![(ENDPOINT, "http://c:4318"), (HEADERS, "novalue")],
        ] {
            let why = resolve(&TelemetryConfig::default(), &env(&bad)).unwrap_err();
            assert!(why.starts_with("OTEL_EXPORTER_OTLP_"), "{why}");
        }
        let missing = resolve(&configured(Some("http://c:1"), None), &env(&[])).unwrap_err();
        assert!(
            missing.contains("telemetry.otlp.headers.x-token"),
            "{missing}"
        );
    }
}
