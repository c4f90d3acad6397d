//! The Hysope catalogue: what data the portal holds and how users find it.
//!
//! [`ingest`] turns product files (SWOT RiverSP/LakeSP shapefile zips, PIXC and
//! PIXCVec NetCDF, USGS gauge files) into STAC items and per-feature observations;
//! a [`CatalogStore`] keeps them (redb by default, [`RedbCatalog`]); [`search`]
//! holds the STAC API item-search semantics (bbox, datetime, ids, collections,
//! CQL2 filter, query, sort, fields, paging) that every store applies; and
//! [`timeseries`] answers per-reach, per-node and per-lake time series.
//! HTTP lives in the gateway; this crate knows nothing of it.

pub mod conformance;
pub mod error;
pub mod features;
pub mod ingest;
pub mod netcdf;
pub mod redb_store;
pub mod search;
pub mod series;
pub mod store;
pub mod synthetic;
pub mod timeseries;

pub use error::{Error, Result};
pub use features::{FeatureQuery, FeatureRecord, Sighting};
pub use hysope_store::SharedDb;
pub use ingest::Product;
pub use redb_store::RedbCatalog;
pub use search::{Page, PageStart, SearchQuery};
pub use store::{CatalogStore, ItemChange, Observation};
