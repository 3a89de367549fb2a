//! Links this crate's own tests against libtorch and forwards libtorch's library directory, which
//! torch-sys exports only to its direct dependents, to the crates that depend on this one.

#[path = "src/build.rs"]
mod link;

fn main() {
    println!("cargo::rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo::metadata=libtorch_lib={lib_dir}");
    }
    link::link_libtorch();
}
