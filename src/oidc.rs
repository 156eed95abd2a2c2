//! An OpenID Connect relying party, apart from any page: the provider as
//! toolgate talks to it (discovery, signing keys, the code exchange) and
//! the checks an ID token must pass. The console's sign-in flow
//! (`console::oidc`) is built on it.

pub(crate) mod id_token;
mod provider;

pub(crate) use provider::{Provider, ProviderError};
