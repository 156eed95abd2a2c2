//! One integration-test binary (one link step): toolgate through its real HTTP
//! interface, against real upstream servers on loopback.

#![allow(unreachable_pub)]

mod support;

mod approvals;
mod audit;
mod aws;
mod bus;
mod calls;
mod canary;
mod cli;
mod config;
mod connections;
mod console;
mod console_admin;
mod console_browser;
mod console_oidc;
mod console_trail;
mod crash;
mod credentials;
mod dead_letters;
mod dev;
mod docs;
mod egress;
mod faults;
mod fuzz_regressions;
mod hostile;
mod http2;
mod inbound;
mod killswitch;
mod layout;
mod limits;
mod listener;
mod mcp;
mod mcp_approvals;
mod mcp_clients;
mod metrics;
mod notify;
mod oauth2;
mod openapi;
mod packaging;
mod recovery;
mod redaction;
mod replicas;
mod replicas_cluster;
mod revocation;
mod rotate;
mod rotate_store;
mod rotation;
mod schemas;
mod shown;
mod shutdown;
mod sources;
mod store;
mod telemetry;
mod tls;
mod tls_identity;
mod vault;
