//! Tests of the `weather` source (real files and fixtures).
