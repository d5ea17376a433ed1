//! Tests of the `chantiers` source (real files and fixtures).
