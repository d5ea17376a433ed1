//! Tests of the `traffic` source (real files and fixtures).
