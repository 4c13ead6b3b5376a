//! ipgate: IP allowlists on AWS API Gateway REST APIs, stage by stage, for Chalice projects.
//!
//! The crate has four layers, and each depends only on the ones above it in this list:
//!
//! - [`core`]: pure code. CIDR entries, resource policy documents (reading a stage's allowlist,
//!   writing an edited document, comparing live and local by meaning) and Chalice project files.
//!   It does no network I/O; table tests cover it.
//! - [`aws`]: the AWS boundary, the only module that calls the API Gateway SDK in the app. It
//!   returns ipgate's own types and an error that keeps the AWS code, message and request id.
//! - [`save`]: the save pipeline. It plans the exact steps of a save: write the policy file,
//!   set the config key, update the live policy, create a deployment. It runs them in order and
//!   records where a failed run stopped, so the run can be retried from there.
//! - [`batch`]: one named-set change applied to every stage that includes the set, stage by
//!   stage through [`save`], with a journal so an interrupted batch can be resumed.
//! - [`ui`]: the terminal UI. The draw loop never awaits the network: AWS work runs on tokio
//!   tasks that report back as [`ui::message::Message`] values carrying owned data.
//! - [`cmd`]: the subcommands for scripts (`ipgate list`, `add`, `diff`...). They open stages,
//!   plan and run saves through the same [`model`] and [`save`] code as the terminal UI.
//!
//! [`emulator`] is not part of the app. It starts moto's API Gateway on 127.0.0.1 for the demo
//! and the tests, and seeds it through the SDK.

// `unwrap` only in tests, or where a comment explains why it cannot fail.
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod aws;
pub mod batch;
pub mod cli;
pub mod cmd;
pub mod core;
pub mod demo;
pub mod emulator;
pub mod history;
pub mod logging;
pub mod model;
pub mod myip;
pub mod save;
pub mod ui;
