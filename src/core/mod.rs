//! The pure core: CIDR entries, resource policy documents and Chalice project files.
//!
//! Nothing here touches the network. The only I/O is in [`chalice`] and [`sets`], which read
//! the project's and the user's files and write them atomically.

pub mod access;
pub mod aggregate;
pub mod chalice;
pub mod cidr;
pub mod diff;
pub mod jsontext;
pub mod live;
pub mod policy;
pub mod resource;
pub mod sets;
