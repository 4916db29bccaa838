//! Test support and the backend conformance suite.
//!
//! The suite ([`conformance`]) is written once against the [`jobs_core::Backend`] contract
//! and instantiated per backend with [`conformance_tests!`]; each case becomes its own
//! `#[test]`.

pub mod conformance;
pub mod e2e;
pub mod faulty;
pub mod redis_cluster;
pub mod redis_server;
pub mod support;

pub use conformance::{Harness, StoreConfig};

/// The README's code blocks, compiled as doc tests here, where both backends are in scope.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
