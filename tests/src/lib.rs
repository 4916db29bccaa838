//! Test support and the backend conformance suite.
