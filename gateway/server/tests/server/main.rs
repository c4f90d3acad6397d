//! The server's integration tests in one binary (one link instead of six: each
//! binary holds the whole engine and server, ~135 MB in the dev profile).
//! `remote_inputs` stays apart: it sets the process's S3 environment.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod execute_properties;
mod features;
mod identity;
mod portal;
mod registry;
mod rules;
mod stac;
mod trust;
