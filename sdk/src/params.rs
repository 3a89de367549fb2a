//! Plugin parameters: what a plugin declares ([`ParamSpec`]) and what it receives ([`Params`]).

use std::fmt;

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};

use crate::PluginError;

/// The type of a parameter.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A real number.
    Float,
    /// A signed integer.
    Int,
    /// true or false.
    Bool,
    /// A string.
    Text,
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParamKind::Float => "float",
            ParamKind::Int => "integer",
            ParamKind::Bool => "boolean",
            ParamKind::Text => "string",
        })
    }
}

/// A parameter's value.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A real number.
    Float(f64),
    /// A signed integer.
    Int(i64),
    /// true or false.
    Bool(bool),
    /// A string.
    Text(RString),
}

impl ParamValue {
    /// The value's type.
    pub fn kind(&self) -> ParamKind {
        match self {
            ParamValue::Float(_) => ParamKind::Float,
            ParamValue::Int(_) => ParamKind::Int,
            ParamValue::Bool(_) => ParamKind::Bool,
            ParamValue::Text(_) => ParamKind::Text,
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Bool(v) => write!(f, "{v}"),
            ParamValue::Text(v) => write!(f, "{v:?}"),
        }
    }
}

/// A parameter a plugin accepts, with its default.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Name used in suite files.
    pub name: RString,
    /// Its type; the harness rejects values of another type before calling the plugin.
    pub kind: ParamKind,
    /// Used when the suite gives no value.
    pub default: ParamValue,
    /// One line for `upbench plugins`.
    pub description: RString,
}

impl ParamSpec {
    /// A parameter whose type is that of `default`.
    pub fn new(name: &str, default: ParamValue, description: &str) -> Self {
        ParamSpec { name: name.into(), kind: default.kind(), default, description: description.into() }
    }
}

/// One named value handed to a plugin.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Param {
    /// The parameter's name.
    pub name: RString,
    /// Its value, of the declared type.
    pub value: ParamValue,
}

/// The full parameter set of one plugin configuration: every declared parameter, defaults
/// filled in and types checked by the harness.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Default, PartialEq)]
pub struct Params {
    /// The values, in the order of the plugin's metadata.
    pub entries: RVec<Param>,
}

impl Params {
    /// The value named `name`, if present.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.entries.iter().find(|p| p.name.as_str() == name).map(|p| &p.value)
    }

    /// The float named `name` (an integer is accepted and converted).
    pub fn float(&self, name: &str) -> Result<f64, PluginError> {
        match self.get(name) {
            Some(ParamValue::Float(v)) => Ok(*v),
            Some(ParamValue::Int(v)) => Ok(*v as f64),
            other => Err(missing_or_wrong(name, ParamKind::Float, other)),
        }
    }

    /// The string named `name`.
    pub fn text(&self, name: &str) -> Result<&str, PluginError> {
        match self.get(name) {
            Some(ParamValue::Text(v)) => Ok(v.as_str()),
            other => Err(missing_or_wrong(name, ParamKind::Text, other)),
        }
    }

    /// The integer named `name`.
    pub fn int(&self, name: &str) -> Result<i64, PluginError> {
        match self.get(name) {
            Some(ParamValue::Int(v)) => Ok(*v),
            other => Err(missing_or_wrong(name, ParamKind::Int, other)),
        }
    }

    /// The boolean named `name`.
    pub fn bool(&self, name: &str) -> Result<bool, PluginError> {
        match self.get(name) {
            Some(ParamValue::Bool(v)) => Ok(*v),
            other => Err(missing_or_wrong(name, ParamKind::Bool, other)),
        }
    }
}

fn missing_or_wrong(name: &str, wanted: ParamKind, found: Option<&ParamValue>) -> PluginError {
    let reason = match found {
        None => "missing".to_string(),
        Some(v) => format!("expected type {wanted}, got {v}"),
    };
    PluginError::InvalidParameter { name: name.into(), reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        let entry = |name: &str, value: ParamValue| Param { name: name.into(), value };
        Params {
            entries: vec![
                entry("gamma", ParamValue::Float(0.5)),
                entry("steps", ParamValue::Int(3)),
                entry("adapt", ParamValue::Bool(false)),
                entry("weights", ParamValue::Text("w.safetensors".into())),
            ]
            .into(),
        }
    }

    #[test]
    fn typed_getters_read_their_type_and_name_what_is_wrong() {
        let p = params();
        assert_eq!((p.float("gamma").unwrap(), p.float("steps").unwrap()), (0.5, 3.0));
        assert_eq!(p.int("steps").unwrap(), 3);
        assert!(!p.bool("adapt").unwrap());
        assert_eq!(p.text("weights").unwrap(), "w.safetensors");
        let wrong = p.bool("gamma").unwrap_err().to_string();
        assert!(wrong.contains("gamma") && wrong.contains("expected type boolean"), "{wrong}");
        assert!(p.bool("absent").unwrap_err().to_string().contains("missing"));
    }
}
