//! Plugin parameters: what a plugin declares ([`ParamSpec`]) and what it receives ([`Params`]).

use std::fmt;

use abi_stable::{
    nonexhaustive_enum::NonExhaustive,
    std_types::{RString, RVec},
    StableAbi,
};

use crate::{Extensions, PluginError};

/// The type of a parameter: an open enum (a byte with named values) like [`crate::DType`], so
/// that a later 1.x SDK can add types without a layout change.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParamKind(u8);

impl ParamKind {
    /// A real number.
    pub const FLOAT: ParamKind = ParamKind(0);
    /// A signed integer.
    pub const INT: ParamKind = ParamKind(1);
    /// true or false.
    pub const BOOL: ParamKind = ParamKind(2);
    /// A string.
    pub const TEXT: ParamKind = ParamKind(3);
    /// A file path (SDK 1.2): written as a string in the suite, a relative one resolved against
    /// the suite file's folder by the harness, and handed to the plugin as [`ParamValue::Text`].
    /// A harness older than 1.2 refuses the parameter by name instead of guessing.
    pub const PATH: ParamKind = ParamKind(4);

    /// The code that crosses the boundary.
    pub const fn code(self) -> u8 {
        self.0
    }
}

impl fmt::Debug for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ParamKind::FLOAT => f.write_str("float"),
            ParamKind::INT => f.write_str("integer"),
            ParamKind::BOOL => f.write_str("boolean"),
            ParamKind::TEXT => f.write_str("string"),
            ParamKind::PATH => f.write_str("path"),
            ParamKind(code) => write!(f, "parameter type {code}"),
        }
    }
}

/// A parameter's value.
///
/// It crosses the boundary as [`ParamValue_NE`], abi_stable's non-exhaustive wrapper, so that a
/// later 1.x SDK can add value types (lists, say); [`Params`]' getters hide the wrapper.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
#[sabi(kind(WithNonExhaustive(size = [usize; 8], traits(Debug, Clone, PartialEq, Display))))]
#[non_exhaustive]
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

impl From<ParamValue> for ParamValue_NE {
    fn from(value: ParamValue) -> Self {
        NonExhaustive::new(value)
    }
}

impl ParamValue {
    /// The value's type.
    pub fn kind(&self) -> ParamKind {
        match self {
            ParamValue::Float(_) => ParamKind::FLOAT,
            ParamValue::Int(_) => ParamKind::INT,
            ParamValue::Bool(_) => ParamKind::BOOL,
            ParamValue::Text(_) => ParamKind::TEXT,
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
    pub default: ParamValue_NE,
    /// One line for `upbench plugins`.
    pub description: RString,
    /// Fields added by later 1.x SDK versions (none in 1.0): the extension point.
    pub extensions: Extensions,
}

impl ParamSpec {
    /// A parameter whose type is that of `default`.
    pub fn new(name: &str, default: ParamValue, description: &str) -> Self {
        ParamSpec {
            name: name.into(),
            kind: default.kind(),
            default: default.into(),
            description: description.into(),
            extensions: Extensions::default(),
        }
    }

    /// A file path ([`ParamKind::PATH`]) with a default path (`""` for none), read with
    /// [`Params::text`].
    pub fn path(name: &str, default: &str, description: &str) -> Self {
        ParamSpec { kind: ParamKind::PATH, ..ParamSpec::new(name, ParamValue::Text(default.into()), description) }
    }

    /// The default value, when this SDK version knows its type.
    pub fn default_value(&self) -> Option<&ParamValue> {
        self.default.as_enum().ok()
    }
}

/// One named value handed to a plugin.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Param {
    /// The parameter's name.
    pub name: RString,
    /// Its value, of the declared type.
    pub value: ParamValue_NE,
}

impl Param {
    /// `name = value`.
    pub fn new(name: &str, value: ParamValue) -> Self {
        Param { name: name.into(), value: value.into() }
    }
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
    /// The value named `name`, if present and of a type this SDK version knows.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.entries.iter().find(|p| p.name.as_str() == name).and_then(|p| p.value.as_enum().ok())
    }

    /// Sets `name` to `value`, replacing an entry of that name or appending one.
    pub fn insert(&mut self, name: &str, value: ParamValue) {
        match self.entries.iter_mut().find(|p| p.name.as_str() == name) {
            Some(entry) => entry.value = value.into(),
            None => self.entries.push(Param::new(name, value)),
        }
    }

    /// The float named `name` (an integer is accepted and converted).
    pub fn float(&self, name: &str) -> Result<f64, PluginError> {
        match self.get(name) {
            Some(ParamValue::Float(v)) => Ok(*v),
            Some(ParamValue::Int(v)) => Ok(*v as f64),
            other => Err(missing_or_wrong(name, ParamKind::FLOAT, other)),
        }
    }

    /// The string named `name`.
    pub fn text(&self, name: &str) -> Result<&str, PluginError> {
        match self.get(name) {
            Some(ParamValue::Text(v)) => Ok(v.as_str()),
            other => Err(missing_or_wrong(name, ParamKind::TEXT, other)),
        }
    }

    /// The integer named `name`.
    pub fn int(&self, name: &str) -> Result<i64, PluginError> {
        match self.get(name) {
            Some(ParamValue::Int(v)) => Ok(*v),
            other => Err(missing_or_wrong(name, ParamKind::INT, other)),
        }
    }

    /// The boolean named `name`.
    pub fn bool(&self, name: &str) -> Result<bool, PluginError> {
        match self.get(name) {
            Some(ParamValue::Bool(v)) => Ok(*v),
            other => Err(missing_or_wrong(name, ParamKind::BOOL, other)),
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
        let entry = Param::new;
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
