//! Certificates made per test run (rcgen): a CA, server certificates for
//! `localhost` and `127.0.0.1`, and client certificates, each as PEM.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use sha2::{Digest, Sha256};

/// A certificate and its private key, PEM-encoded.
#[derive(Clone)]
pub struct Pair {
    pub cert: String,
    pub key: String,
    /// SHA-256 of the certificate's DER, in hex.
    pub sha256: String,
}

impl Pair {
    /// The certificate then the key: what `reqwest::Identity::from_pem` takes.
    pub fn identity_pem(&self) -> String {
        format!("{}{}", self.cert, self.key)
    }
}

/// A certificate authority that signs servers and clients.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::new()).expect("no names");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("a key");
        let cert = params.self_signed(&key).expect("a CA");
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    fn sign(&self, mut params: CertificateParams, usage: ExtendedKeyUsagePurpose) -> Pair {
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("a key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        Pair {
            sha256: hex::encode(Sha256::digest(cert.der())),
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    pub fn server(&self) -> Pair {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("names");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        self.sign(params, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate named `cn`, with `uri` (a SPIFFE ID, say) as a SAN.
    pub fn client(&self, cn: &str, uri: Option<&str>) -> Pair {
        let mut params = CertificateParams::new(Vec::new()).expect("no names");
        params.distinguished_name.push(DnType::CommonName, cn);
        if let Some(u) = uri {
            params
                .subject_alt_names
                .push(SanType::URI(u.try_into().expect("an ASCII URI")));
        }
        self.sign(params, ExtendedKeyUsagePurpose::ClientAuth)
    }
}
