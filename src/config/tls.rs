//! `tls:` — TLS on toolgate's own listener. The files are read here, so a
//! missing file, a key that does not match its certificate or an unusable
//! CA is a configuration error naming the file, from `toolgate check` as
//! from `toolgate serve`.

use std::path::Path;

use super::document::FileCtx;
use super::raw::RawTls;
use crate::tls::{MinVersion, PairError, TlsSettings, load_pair, load_roots};

pub(super) fn build(
    raw: Option<&RawTls>,
    base_dir: &Path,
    ctx: &mut FileCtx<'_>,
) -> Option<TlsSettings> {
    let raw = raw?;
    let min_version = match raw.min_version.as_deref() {
        None | Some("1.2") => MinVersion::Tls12,
        Some("1.3") => MinVersion::Tls13,
        Some(_) => {
            ctx.error("/tls/min_version", "tls.min_version is \"1.2\" or \"1.3\"");
            MinVersion::Tls12
        }
    };
    let settings = TlsSettings {
        cert: base_dir.join(&raw.cert),
        key: base_dir.join(&raw.key),
        client_ca: raw.client_ca.as_ref().map(|c| base_dir.join(c)),
        min_version,
    };
    let mut good = true;
    if let Err(e) = load_pair(&settings.cert, &settings.key) {
        let pointer = match e {
            PairError::Key(_) => "/tls/key",
            PairError::Cert(_) | PairError::Mismatch(_) => "/tls/cert",
        };
        ctx.error(pointer, e.to_string());
        good = false;
    }
    if let Some(ca) = &settings.client_ca
        && let Err(e) = load_roots(ca)
    {
        ctx.error("/tls/client_ca", &e);
        good = false;
    }
    good.then_some(settings)
}
