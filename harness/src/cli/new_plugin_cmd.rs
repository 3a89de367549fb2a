//! `upbench new-plugin`: scaffolds a plugin crate from the templates in `harness/templates/plugin`
//! (embedded in the binary): a working model, its conformance test, a suite that scores it and a
//! README with the commands.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::{NewPluginArgs, ScaffoldKind};

/// The templates, embedded at build time.
mod template {
    pub const CARGO_TOML: &str = include_str!("../../templates/plugin/Cargo.toml.in");
    pub const DEPS_RUST: &str = include_str!("../../templates/plugin/deps-rust.in");
    pub const DEPS_TCH: &str = include_str!("../../templates/plugin/deps-tch.in");
    pub const BUILD_RS: &str = include_str!("../../templates/plugin/build.rs.in");
    pub const EXACT_RUST: &str = include_str!("../../templates/plugin/exact-rust.rs.in");
    pub const EXACT_TCH: &str = include_str!("../../templates/plugin/exact-tch.rs.in");
    pub const IMAGE_RUST: &str = include_str!("../../templates/plugin/image-rust.rs.in");
    pub const IMAGE_TCH: &str = include_str!("../../templates/plugin/image-tch.rs.in");
    pub const CONFORMANCE: &str = include_str!("../../templates/plugin/conformance.rs.in");
    pub const SUITE_EXACT: &str = include_str!("../../templates/plugin/suite-exact.toml.in");
    pub const SUITE_IMAGE: &str = include_str!("../../templates/plugin/suite-image.toml.in");
    pub const README: &str = include_str!("../../templates/plugin/README.md.in");
}

/// The version of `plugins/upbench-tch` that goes with this harness, which a tch scaffold pins
/// (a unit test keeps it equal to that crate's manifest); the SDK's comes from the loader.
const TCH_KIT_VERSION: &str = "0.1.0";

/// Writes the crate; fails (exit 2) on a bad name or an existing folder, before writing anything.
pub fn run(args: NewPluginArgs) -> anyhow::Result<bool> {
    validate_name(&args.name)?;
    let root = args.dir.join(&args.name);
    if root.exists() {
        bail!("{}: already exists; choose another name or --dir", root.display());
    }
    let files = scaffold(&args.name, args.kind, args.tch, sources_dir().as_deref());
    for (relative, content) in &files {
        let path = root.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, content).with_context(|| format!("cannot write {}", path.display()))?;
    }
    outln!("Created {} ({} files). Next:", root.display(), files.len());
    outln!("  cd {}", root.display());
    if args.tch {
        outln!("  # tch needs libtorch 2.11.0: LIBTORCH_USE_PYTORCH=1 with torch==2.11.0 importable (see README.md)");
    }
    outln!("  cargo build --release && cargo test");
    outln!("  upbench run suite.toml{}", device_flag(args.tch));
    Ok(true)
}

/// Crate names cargo accepts and suites can name: lower-case ASCII letters, digits and '-',
/// starting with a letter.
fn validate_name(name: &str) -> anyhow::Result<()> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !ok {
        bail!("'{name}' is not a plugin name: use lower-case letters, digits and '-', starting with a letter (e.g. my-denoiser)");
    }
    Ok(())
}

/// Where this harness's `sdk/` and `plugins/upbench-tch/` sources are, when they still exist:
/// scaffolds then depend on them by path (with the version, for when they are published).
fn sources_dir() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.to_path_buf();
    root.join("sdk/Cargo.toml").is_file().then_some(root)
}

fn device_flag(tch: bool) -> &'static str {
    if tch {
        ""
    } else {
        " --device cpu"
    }
}

/// Every file of the crate, relative to its folder, with its content.
pub fn scaffold(name: &str, kind: ScaffoldKind, tch: bool, sources: Option<&Path>) -> Vec<(PathBuf, String)> {
    let lib = format!("upbench_plugin_{}", name.replace('-', "_"));
    let type_name: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    let dependency = |version: &str, relative: &str, extra: &str| match sources {
        Some(root) => format!("{{ version = \"={version}\", path = \"{}\"{extra} }}", root.join(relative).display()),
        None => format!("{{ version = \"={version}\"{extra} }}"),
    };
    let dependencies = if tch {
        template::DEPS_TCH
            .replace("{{kit}}", &dependency(TCH_KIT_VERSION, "plugins/upbench-tch", ""))
            .replace("{{kit_build}}", &dependency(TCH_KIT_VERSION, "plugins/upbench-tch", ", default-features = false"))
    } else {
        template::DEPS_RUST.replace("{{sdk}}", &dependency(&crate::plugin::harness_sdk_version(), "sdk", ""))
    };
    let model = match (kind, tch) {
        (ScaffoldKind::Exact, false) => template::EXACT_RUST,
        (ScaffoldKind::Exact, true) => template::EXACT_TCH,
        (ScaffoldKind::Image, false) => template::IMAGE_RUST,
        (ScaffoldKind::Image, true) => template::IMAGE_TCH,
    };
    let (kinds, suite, kind_flag) = match kind {
        ScaffoldKind::Exact => ("EXACT", template::SUITE_EXACT, "--kind exact"),
        ScaffoldKind::Image => ("IMAGE", template::SUITE_IMAGE, "--kind image"),
    };
    let libtorch_note = if tch {
        "\nBuilding needs libtorch 2.11.0 (what the harness links): `LIBTORCH_USE_PYTORCH=1` with a\n\
         Python whose `torch==2.11.0` is importable (upbench's `scripts/with-libtorch CMD` sets that\n\
         up), or `LIBTORCH=/path/to/libtorch`. `build.rs` adds the rpath and keeps CUDA linked.\n"
    } else {
        ""
    };
    let flags = if tch { format!("{kind_flag} --tch") } else { kind_flag.to_string() };
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{lib}}", &lib)
            .replace("{{type}}", &type_name)
            .replace("{{kinds}}", kinds)
            .replace("{{sdk_path}}", if tch { "upbench_tch::sdk" } else { "upbench_sdk" })
            .replace("{{device_flag}}", device_flag(tch))
            .replace("{{flags}}", &flags)
            .replace("{{libtorch_note}}", libtorch_note)
            .replace("{{dependencies}}", &dependencies)
    };
    let mut files = vec![
        ("Cargo.toml".into(), fill(template::CARGO_TOML)),
        ("src/lib.rs".into(), fill(model)),
        ("tests/conformance.rs".into(), fill(template::CONFORMANCE)),
        ("suite.toml".into(), fill(suite)),
        ("README.md".into(), fill(template::README)),
        (".gitignore".into(), "/target\n".into()),
    ];
    if tch {
        files.push(("build.rs".into(), fill(template::BUILD_RS)));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_in_every_flavour() {
        for kind in [ScaffoldKind::Exact, ScaffoldKind::Image] {
            for tch in [false, true] {
                for (path, content) in scaffold("my-model2", kind, tch, Some(Path::new("/src/upbench"))) {
                    assert!(!content.contains("{{"), "{} ({kind:?}, tch {tch}) keeps a placeholder", path.display());
                }
            }
        }
        let files = scaffold("my-model2", ScaffoldKind::Image, true, None);
        let lib = &files.iter().find(|(p, _)| p == Path::new("src/lib.rs")).unwrap().1;
        assert!(lib.contains("pub struct MyModel2;") && lib.contains("PluginMetadata::new(\"my-model2\""));
        let manifest = &files.iter().find(|(p, _)| p == Path::new("Cargo.toml")).unwrap().1;
        assert!(manifest.contains("name = \"upbench_plugin_my_model2\""));
        assert!(manifest.contains(&format!("upbench-tch = {{ version = \"={TCH_KIT_VERSION}\" }}")), "{manifest}");
    }

    #[test]
    fn the_pinned_kit_version_is_the_kits_own() {
        let manifest = include_str!("../../../plugins/upbench-tch/Cargo.toml");
        assert!(manifest.contains(&format!("\nversion = \"{TCH_KIT_VERSION}\"\n")), "bump TCH_KIT_VERSION");
    }

    #[test]
    fn names_cargo_and_suites_cannot_use_are_refused() {
        for bad in ["", "My-model", "my_model", "2fast", "model-", "a b"] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
        validate_name("my-denoiser-2").unwrap();
    }
}
