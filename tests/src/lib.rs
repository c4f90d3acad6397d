//! End-to-end tests across the Hysope crates live in `tests/`; this library is empty.
