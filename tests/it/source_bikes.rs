//! Tests of the `bikes` source (real files and fixtures).
