//! The terminal UI.
//!
//! [`app::App`] contains every piece of state and turns [`message::Message`] values into state
//! changes and [`message::Effect`] requests. [`runtime`] owns the terminal, reads input on a
//! thread, runs effects on tokio tasks and draws after each batch of messages, so drawing never
//! waits on the network. [`view`] draws the state and does nothing else.

pub mod app;
pub mod batch;
pub mod editor;
pub mod keys;
pub mod message;
pub mod runtime;
pub mod sets;
pub mod terminal;
pub mod view;
