//! Effective access (in progress).
