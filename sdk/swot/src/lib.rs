//! Readers of the hydrology products Hysope catalogues and its plugins compute on:
//! SWOT L2 HR shapefile zips (RiverSP, LakeSP), SWOT pixel clouds (PIXC, PIXCVec,
//! NetCDF-4), USGS gauge files (RDB tables and WaterML JSON), and the SWOT file
//! naming convention.
//!
//! Every reader turns fill values into nulls and reports a truncated or foreign
//! file as a [`ReadError`] naming the file and what is wrong with it. The crate
//! has no native-only dependency, so plugins built for `wasm32-wasip2` use it too.

pub mod csv;
pub mod name;
pub mod pixc;
pub mod rdb;
pub mod shapefile;
pub mod stats;
pub mod time;

pub use name::ProductName;
pub use shapefile::{FLOAT_FILL, Feature, INT_FILL, Layer, ReadError, TEXT_FILL, read_zip};
