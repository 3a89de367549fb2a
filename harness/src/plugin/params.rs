//! Suite parameter tables → type-checked [`Params`] sets, one per point of a sweep.
//!
//! `params = { gamma = [0.0, 0.5, 1.0], tau = 0.3 }`: an array sweeps, and several arrays give
//! their cartesian product, in the order the plugin declares its parameters.

use std::path::Path;

use upbench_sdk::{Param, ParamKind, ParamValue, ParamValue_NE, Params, PluginMetadata};

/// One configuration of a plugin: the full parameter set and a label for tables.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfig {
    /// Every declared parameter, defaults filled in.
    pub params: Params,
    /// `name` or `name(γ=0.5)`-style label listing the parameters the suite set.
    pub label: String,
}

/// A suite's parameter value that the plugin does not accept.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// The plugin declares no such parameter.
    #[error("plugin '{plugin}' has no parameter '{name}' (it accepts: {known})")]
    Unknown {
        /// Plugin name.
        plugin: String,
        /// The unknown name.
        name: String,
        /// Declared names.
        known: String,
    },
    /// A value of the wrong type.
    #[error("parameter '{name}' of plugin '{plugin}' must be of type {expected}, got {found}")]
    WrongType {
        /// Plugin name.
        plugin: String,
        /// Parameter name.
        name: String,
        /// Declared type.
        expected: ParamKind,
        /// What the suite gave.
        found: String,
    },
    /// `name = []`.
    #[error("parameter '{name}' of plugin '{plugin}' sweeps over an empty list")]
    EmptySweep {
        /// Plugin name.
        plugin: String,
        /// Parameter name.
        name: String,
    },
}

impl ParamError {
    /// The parameter the error is about.
    pub fn param_name(&self) -> &str {
        match self {
            ParamError::Unknown { name, .. }
            | ParamError::WrongType { name, .. }
            | ParamError::EmptySweep { name, .. } => name,
        }
    }
}

/// The suite's value as a value of the declared type (a relative path joined to `base_dir`);
/// `None` when it is of another type or the plugin declares a type this SDK version does not
/// know.
fn convert(value: &toml::Value, kind: ParamKind, base_dir: &Path) -> Option<ParamValue_NE> {
    let value = match (kind, value) {
        (ParamKind::FLOAT, toml::Value::Float(v)) => ParamValue::Float(*v),
        (ParamKind::FLOAT, toml::Value::Integer(v)) => ParamValue::Float(*v as f64),
        (ParamKind::INT, toml::Value::Integer(v)) => ParamValue::Int(*v),
        (ParamKind::BOOL, toml::Value::Boolean(v)) => ParamValue::Bool(*v),
        (ParamKind::TEXT, toml::Value::String(v)) => ParamValue::Text(v.as_str().into()),
        (ParamKind::PATH, toml::Value::String(v)) => {
            ParamValue::Text(base_dir.join(v).to_string_lossy().as_ref().into())
        }
        _ => return None,
    };
    Some(value.into())
}

/// Expands `given` (name → value or array of values) against the plugin's declared parameters.
/// Relative paths (parameters of kind path) are read from `base_dir`, the suite's folder.
/// Configurations are labelled `plugin(name=value, …)` with the parameters the suite sets, or,
/// with a `label`, `label(name=value, …)` with the parameters it sweeps; a path shows as given.
pub fn resolve_params(
    meta: &PluginMetadata,
    given: &[(String, toml::Value)],
    base_dir: &Path,
    label: Option<&str>,
) -> Result<Vec<PluginConfig>, ParamError> {
    let plugin = meta.name.to_string();
    for (name, _) in given {
        if !meta.params.iter().any(|s| s.name.as_str() == name) {
            let known: Vec<&str> = meta.params.iter().map(|s| s.name.as_str()).collect();
            let known = if known.is_empty() { "no parameters".to_string() } else { known.join(", ") };
            return Err(ParamError::Unknown { plugin, name: name.clone(), known });
        }
    }
    // For each declared parameter: its candidate values (with how a label shows each) and
    // whether the label shows it.
    type Axis = (String, Vec<(ParamValue_NE, String)>, bool);
    let mut axes: Vec<Axis> = Vec::new();
    for spec in meta.params.iter() {
        let name = spec.name.to_string();
        let Some((_, value)) = given.iter().find(|(n, _)| *n == name) else {
            axes.push((name, vec![(spec.default.clone(), String::new())], false));
            continue;
        };
        let items: Vec<&toml::Value> = match value {
            toml::Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        if items.is_empty() {
            return Err(ParamError::EmptySweep { plugin, name });
        }
        let sweeps = items.len() > 1;
        let values = items
            .into_iter()
            .map(|v| {
                let converted = convert(v, spec.kind, base_dir).ok_or_else(|| ParamError::WrongType {
                    plugin: plugin.clone(),
                    name: name.clone(),
                    expected: spec.kind,
                    found: format!("{} `{v}`", v.type_str()),
                })?;
                let shown = match (spec.kind, v) {
                    (ParamKind::PATH, toml::Value::String(text)) => format!("{text:?}"),
                    _ => converted.to_string(),
                };
                Ok((converted, shown))
            })
            .collect::<Result<Vec<_>, _>>()?;
        axes.push((name, values, label.is_none() || sweeps));
    }
    let mut configs = vec![Vec::<(Param, String)>::new()];
    for (name, values, _) in &axes {
        configs = configs
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |(v, shown)| {
                    let mut next = prefix.clone();
                    next.push((Param { name: name.as_str().into(), value: v.clone() }, shown.clone()));
                    next
                })
            })
            .collect();
    }
    Ok(configs
        .into_iter()
        .map(|entries| {
            let shown: Vec<String> = entries
                .iter()
                .zip(&axes)
                .filter(|(_, (_, _, shown))| *shown)
                .map(|((p, value), _)| format!("{}={value}", p.name))
                .collect();
            let name = label.unwrap_or(&plugin);
            let label = if shown.is_empty() { name.to_string() } else { format!("{name}({})", shown.join(", ")) };
            let entries: Vec<Param> = entries.into_iter().map(|(p, _)| p).collect();
            PluginConfig { params: Params { entries: entries.into() }, label }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use upbench_sdk::ParamSpec;

    fn meta() -> PluginMetadata {
        PluginMetadata::new("p", "1", "")
            .with_param(ParamSpec::new("gamma", ParamValue::Float(0.5), ""))
            .with_param(ParamSpec::new("steps", ParamValue::Int(3), ""))
    }

    #[test]
    fn sweeps_expand_to_the_cartesian_product_with_defaults() {
        let given = vec![
            ("gamma".to_string(), toml::Value::Array(vec![toml::Value::Integer(0), toml::Value::Float(0.25)])),
            ("steps".to_string(), toml::Value::Array(vec![1.into(), 2.into()])),
        ];
        let configs = resolve_params(&meta(), &given, Path::new("."), None).unwrap();
        assert_eq!(configs.len(), 4);
        assert_eq!(configs[1].label, "p(gamma=0, steps=2)");
        assert_eq!(configs[1].params.float("gamma").unwrap(), 0.0);
        let defaults = resolve_params(&meta(), &[], Path::new("."), None).unwrap();
        assert_eq!(defaults.len(), 1);
        assert_eq!(defaults[0].label, "p");
        assert_eq!(defaults[0].params.int("steps").unwrap(), 3);
    }

    #[test]
    fn paths_are_read_from_the_suites_folder_and_labels_show_them_as_written() {
        let meta = meta().with_param(ParamSpec::path("module", "", ""));
        let given = vec![("module".to_string(), toml::Value::String("models/a.pt".into()))];
        let configs = resolve_params(&meta, &given, Path::new("/suites"), None).unwrap();
        assert_eq!(configs[0].params.text("module").unwrap(), "/suites/models/a.pt");
        assert_eq!(configs[0].label, "p(module=\"models/a.pt\")");
        let given = vec![("module".to_string(), toml::Value::String("/abs/b.pt".into()))];
        let configs = resolve_params(&meta, &given, Path::new("/suites"), None).unwrap();
        assert_eq!(configs[0].params.text("module").unwrap(), "/abs/b.pt");
        // A path must be a string.
        let given = vec![("module".to_string(), toml::Value::Integer(3))];
        let err = resolve_params(&meta, &given, Path::new("/suites"), None).unwrap_err();
        assert_eq!(err.to_string(), "parameter 'module' of plugin 'p' must be of type path, got integer `3`");
    }

    #[test]
    fn a_label_replaces_the_name_and_shows_only_what_sweeps() {
        let given = vec![
            ("gamma".to_string(), toml::Value::Array(vec![toml::Value::Float(0.5), toml::Value::Float(1.0)])),
            ("steps".to_string(), toml::Value::Integer(7)),
        ];
        let configs = resolve_params(&meta(), &given, Path::new("."), Some("my model")).unwrap();
        let labels: Vec<&str> = configs.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["my model(gamma=0.5)", "my model(gamma=1)"]);
        assert_eq!(configs[1].params.int("steps").unwrap(), 7);
        let single = resolve_params(&meta(), &given[1..], Path::new("."), Some("my model")).unwrap();
        assert_eq!(single[0].label, "my model");
    }

    #[test]
    fn unknown_and_ill_typed_parameters_are_named() {
        let err = resolve_params(&meta(), &[("gama".into(), 1.into())], Path::new("."), None).unwrap_err();
        assert_eq!(err.to_string(), "plugin 'p' has no parameter 'gama' (it accepts: gamma, steps)");
        let err =
            resolve_params(&meta(), &[("steps".into(), toml::Value::Float(1.5))], Path::new("."), None).unwrap_err();
        assert_eq!(err.to_string(), "parameter 'steps' of plugin 'p' must be of type integer, got float `1.5`");
    }
}
