//! Floats in results files. JSON has no ±∞ or NaN, yet results hold them on purpose (P = +∞ for
//! a deterministic model, an unknown bound is NaN), so a finite value is written as a number
//! and the others as the strings `"Infinity"`, `"-Infinity"` and `"NaN"`, which JavaScript's
//! `Number()` and Python's `float()` both read back. Files of schema version 1 wrote `null`
//! instead; it reads as NaN.
//!
//! Use with `#[serde(with = "crate::float")]` (`f64`) or `…::float::option`
//! (`Option<f64>`, `null` for `None`).

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Writes a finite value as a number, the others as text.
pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    match non_finite_text(*value) {
        None => serializer.serialize_f64(*value),
        Some(text) => serializer.serialize_str(text),
    }
}

/// Reads a number, one of the three texts, or `null` (NaN, schema version 1).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    deserializer.deserialize_any(FloatVisitor)
}

/// The text for a non-finite value; `None` for a finite one.
pub fn non_finite_text(value: f64) -> Option<&'static str> {
    if value.is_finite() {
        None
    } else if value.is_nan() {
        Some("NaN")
    } else if value > 0.0 {
        Some("Infinity")
    } else {
        Some("-Infinity")
    }
}

struct FloatVisitor;

impl<'de> Visitor<'de> for FloatVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, \"Infinity\", \"-Infinity\" or \"NaN\"")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match v {
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            "NaN" => Ok(f64::NAN),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
        Ok(f64::NAN)
    }
    fn visit_none<E: de::Error>(self) -> Result<f64, E> {
        Ok(f64::NAN)
    }
}

/// `Option<f64>`: `None` is `null`, `Some` is written as above.
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    /// `null`, a number or one of the texts.
    pub fn serialize<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            None => serializer.serialize_none(),
            Some(v) => super::serialize(v, serializer),
        }
    }

    /// `null` is `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
        #[derive(Deserialize)]
        struct Float(#[serde(with = "super")] f64);
        Ok(Option::<Float>::deserialize(deserializer)?.map(|f| f.0))
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct Row {
        #[serde(with = "super")]
        x: f64,
        #[serde(with = "super::option")]
        y: Option<f64>,
    }

    #[test]
    fn every_value_survives_a_round_trip() {
        for (x, y) in [(1.5, None), (f64::INFINITY, Some(f64::NEG_INFINITY)), (f64::NAN, Some(-2.0))] {
            let text = serde_json::to_string(&Row { x, y }).unwrap();
            let back: Row = serde_json::from_str(&text).unwrap();
            assert_eq!(back.x.to_bits(), x.to_bits(), "{text}");
            assert_eq!(back.y.map(f64::to_bits), y.map(f64::to_bits), "{text}");
        }
        assert_eq!(serde_json::to_string(&Row { x: f64::INFINITY, y: None }).unwrap(), r#"{"x":"Infinity","y":null}"#);
    }

    #[test]
    fn version_one_nulls_read_as_nan_and_other_text_is_refused() {
        let old: Row = serde_json::from_str(r#"{"x":null,"y":null}"#).unwrap();
        assert!(old.x.is_nan() && old.y.is_none());
        let err = serde_json::from_str::<Row>(r#"{"x":"inf","y":null}"#).unwrap_err();
        assert!(err.to_string().contains("\"Infinity\""), "{err}");
    }
}
