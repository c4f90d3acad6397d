//! The end-to-end tests in one binary (one link instead of eight: each binary
//! holds the whole engine, 50-75 MB in the dev profile).

mod backend_suite;
mod bundled;
mod fresh_outdir;
mod input_properties;
mod invalid_cwl;
mod river_filter;
mod sandbox;
mod workflow;
