//! The one place that knows every source kind: it builds the source of a
//! configured credential, the clients remote kinds share, and reads the
//! kinds that need no I/O beyond the process. Adding a kind is a module of
//! its own plus one arm here.

use std::sync::Arc;

use secrecy::SecretString;

use super::env;
use super::source::{Context, SecretSource};
use super::vars::EnvSource;
use super::{aws, file, oauth2, sealed, vault};
use crate::config::{Config, CredentialDef, SourceDef};

/// The clients remote sources share, each built on first need. A client
/// that cannot be built is logged once; its credentials are unavailable.
pub(super) struct Clients<'a> {
    config: &'a Config,
    vault: Option<Option<Arc<vault::Client>>>,
    tokens: Option<Option<Arc<oauth2::TokenClient>>>,
    aws: Option<Option<Arc<aws::Client>>>,
}

impl<'a> Clients<'a> {
    pub(super) fn new(config: &'a Config) -> Self {
        Clients {
            config,
            vault: None,
            tokens: None,
            aws: None,
        }
    }

    fn vault(&mut self, env: &Arc<dyn EnvSource>) -> Option<Arc<vault::Client>> {
        let config = &self.config.vault;
        self.vault
            .get_or_insert_with(|| {
                logged("Vault", || {
                    vault::Client::new(config, env.clone(), read_local)
                })
            })
            .clone()
    }

    fn aws(&mut self, env: &Arc<dyn EnvSource>) -> Option<Arc<aws::Client>> {
        self.aws
            .get_or_insert_with(|| logged("AWS", || aws::Client::new(env.clone())))
            .clone()
    }

    fn tokens(&mut self) -> Option<Arc<oauth2::TokenClient>> {
        self.tokens
            .get_or_insert_with(|| logged("OAuth2", oauth2::TokenClient::new))
            .clone()
    }
}

fn logged<T, E: std::fmt::Display>(
    what: &str,
    build: impl FnOnce() -> Result<T, E>,
) -> Option<Arc<T>> {
    build()
        .map(Arc::new)
        .map_err(|e| tracing::error!(error = %e, "cannot build the {what} client"))
        .ok()
}

/// The implementation of a configured credential's source.
pub(super) fn build(
    def: &Arc<CredentialDef>,
    clients: &mut Clients<'_>,
    ctx: &Arc<Context>,
) -> Arc<dyn SecretSource> {
    match &def.source {
        SourceDef::Env(var) => Arc::new(env::EnvSecret::new(def.clone(), var, ctx.clone())),
        SourceDef::File(path) => Arc::new(file::FileSecret::new(def.clone(), path, ctx.clone())),
        SourceDef::Vault { path, field } => Arc::new(vault::VaultSecret::new(
            def.clone(),
            path,
            field,
            clients.vault(&ctx.env),
            ctx.clone(),
        )),
        SourceDef::OAuth2(o) => match connected(def, clients, ctx) {
            Some(c) => c,
            None => Arc::new(oauth2::OAuth2Secret::new(
                def.clone(),
                o,
                clients.tokens(),
                ctx.clone(),
            )),
        },
        SourceDef::AwsSecretsManager(a) => Arc::new(aws::AwsSecret::new(
            def.clone(),
            a,
            clients.aws(&ctx.env),
            ctx.clone(),
        )),
        SourceDef::Store { initial } => {
            // The first value's source, read once when the store has none.
            let first = Arc::new(CredentialDef {
                source: (**initial).clone(),
                rotation: None,
                ..(**def).clone()
            });
            let initial = build(&first, clients, ctx);
            Arc::new(sealed::StoreSecret::new(def.clone(), initial, ctx.clone()))
        }
    }
}

/// The source of a per-user connection credential, typed (the facade
/// reaches its connections through it); `None` for any other credential.
pub(super) fn connected(
    def: &Arc<CredentialDef>,
    clients: &mut Clients<'_>,
    ctx: &Arc<Context>,
) -> Option<Arc<oauth2::connected::ConnectedSecret>> {
    match &def.source {
        SourceDef::OAuth2(o) if o.grant == crate::config::Grant::AuthorizationCode => {
            Some(Arc::new(oauth2::connected(
                def.clone(),
                o,
                clients.tokens(),
                ctx.clone(),
            )))
        }
        _ => None,
    }
}

/// A source read without I/O beyond the process; `None` for a remote one
/// or when there is nothing to read (an unset or empty variable).
pub(super) fn read_local(source: &SourceDef, env: &dyn EnvSource) -> Option<SecretString> {
    match source {
        SourceDef::Env(var) => env::read(env, var),
        SourceDef::File(path) => file::read_secret_file(path).ok(),
        SourceDef::Vault { .. }
        | SourceDef::OAuth2(_)
        | SourceDef::AwsSecretsManager(_)
        | SourceDef::Store { .. } => None,
    }
}
