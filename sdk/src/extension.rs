//! The extension point every growable boundary struct ends with.

use abi_stable::{std_types::RVec, StableAbi};

use crate::{Param, ParamValue};

/// Named fields that a later 1.x SDK adds to the struct holding them, without changing its
/// layout.
///
/// Structs that cross the boundary by value ([`crate::TaskSpec`], [`crate::ImageTaskSpec`],
/// [`crate::PluginMetadata`], [`crate::ParamSpec`]) cannot grow fields of their own without
/// breaking every plugin built before, so each ends with one of these. A minor version that adds
/// a field documents its name, type and the default a reader uses when the entry is absent
/// (because the other side was built against an older SDK). Readers ignore names they do not
/// know. SDK 1.0 defines no entries.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Default, PartialEq)]
pub struct Extensions {
    entries: RVec<Param>,
}

impl Extensions {
    /// No entries: what SDK 1.0 writes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry `name`, if present and of a type this SDK version knows.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.entries.iter().find(|p| p.name.as_str() == name).and_then(|p| p.value.as_enum().ok())
    }

    /// Sets entry `name`, replacing one of that name.
    pub fn with(mut self, name: &str, value: ParamValue) -> Self {
        self.entries.retain(|p| p.name.as_str() != name);
        self.entries.push(Param::new(name, value));
        self
    }

    /// The names present, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|p| p.name.as_str())
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
