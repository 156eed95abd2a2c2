//! An OTLP trace receiver on a loopback port: `POST /v1/traces`
//! (http/protobuf) and the gRPC trace service (HTTP/2 without TLS). It keeps
//! every export as it arrived — raw bytes and headers — and decodes the spans.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use http_body_util::StreamBody;
use hyper::body::Frame;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// One export as it arrived.
#[derive(Clone)]
pub struct Export {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub grpc: bool,
}

impl Export {
    /// The protobuf message (a gRPC body has a 5-byte frame header).
    pub fn request(&self) -> ExportTraceServiceRequest {
        let bytes = if self.grpc {
            &self.body[5..]
        } else {
            &self.body[..]
        };
        ExportTraceServiceRequest::decode(bytes).expect("an OTLP trace export")
    }
}

#[derive(Clone, Default)]
struct Kept(Arc<Mutex<Vec<Export>>>);

pub struct Receiver {
    pub addr: SocketAddr,
    kept: Kept,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let kept = Kept::default();
        let app = axum::Router::new()
            .route("/v1/traces", post(http_export))
            .route(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                post(grpc_export),
            )
            .with_state(kept.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, kept }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn exports(&self) -> Vec<Export> {
        self.kept.0.lock().unwrap().clone()
    }

    /// Every span of every export.
    pub fn spans(&self) -> Vec<Span> {
        self.exports()
            .iter()
            .flat_map(|e| e.request().resource_spans)
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect()
    }

    /// Every byte received, bodies and header values, as one lossy text.
    pub fn all_bytes(&self) -> String {
        let mut out = String::new();
        for e in self.exports() {
            out.push_str(&String::from_utf8_lossy(&e.body));
            out.push('\n');
        }
        out
    }
}

async fn http_export(State(kept): State<Kept>, headers: HeaderMap, body: Bytes) -> Response {
    kept.0.lock().unwrap().push(Export {
        headers,
        body: body.to_vec(),
        grpc: false,
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .body(Body::empty())
        .unwrap()
}

async fn grpc_export(State(kept): State<Kept>, headers: HeaderMap, body: Bytes) -> Response {
    kept.0.lock().unwrap().push(Export {
        headers,
        body: body.to_vec(),
        grpc: true,
    });
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "0".parse().unwrap());
    // An empty ExportTraceServiceResponse: uncompressed, length 0.
    let frames = futures_util::stream::iter([
        Ok::<_, Infallible>(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))),
        Ok(Frame::trailers(trailers)),
    ]);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/grpc")
        .body(Body::new(StreamBody::new(frames)))
        .unwrap()
}

/// A span's string attribute.
pub fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(AnyValue::StringValue(s)) => Some(s.clone()),
            Some(AnyValue::IntValue(i)) => Some(i.to_string()),
            _ => None,
        })
}
