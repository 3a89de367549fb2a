// Build script shared by every crate that links libtorch (the harness, tch plugins, benches).
//
// torch-sys adds no rpath, and the linker's `--as-needed` drops `libtorch_cuda.so` because
// nothing references it directly, which silently disables CUDA (`../shared/docs/stack-notes.md`).
// So: an rpath to libtorch's directory, and `libtorch_cuda` linked unconditionally when the
// libtorch build has it. `DEP_TCH_LIBTORCH_LIB` is exported by torch-sys to crates that depend on
// it directly.

pub fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    if std::path::Path::new(&lib_dir).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
