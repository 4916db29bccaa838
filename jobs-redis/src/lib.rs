//! The Redis backend for `jobs-core`.
//!
//! Not written yet: it is the next step of the project. Until then, use
//! [`jobs_core::MemoryBackend`].
