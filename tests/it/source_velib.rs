//! Tests of the `velib` source (real files and fixtures).
