//! The SDK's conformance checks (what every upbench run relies on: output shape, layout, device,
//! finite values, seeding, batch independence) on every task kind this plugin declares, at η = 1
//! (stochastic) and η = 0 (deterministic, and saying so), with few steps to keep CI quick; and
//! bad parameters refused by name before any model is loaded.

use upbench_plugin_pnp_sampler::PnpSampler;
use upbench_sdk::{testing, ParamValue, PluginError, TaskKind};

/// The weights live in `../shared/models` beside the checkout unless `UPBENCH_MODELS_DIR` says.
fn point_at_models() {
    if std::env::var_os("UPBENCH_MODELS_DIR").is_none() {
        std::env::set_var("UPBENCH_MODELS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/models"));
    }
}

/// libtorch's generator is process-wide, and building a network draws its initial weights from
/// it (before the file's are loaded): a test that constructs models while another checks that one
/// seed gives the same samples twice breaks that check. Every test here holds this lock.
static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn generator() -> std::sync::MutexGuard<'static, ()> {
    GENERATOR.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One test for every check that draws: libtorch's generator is process-wide, and tests run on
/// parallel threads would reseed it under each other.
#[test]
fn every_declared_task_kind_conforms() {
    let _generator = generator();
    // One libtorch thread: CI's two cores are shared with other test binaries, and libtorch's
    // pool is then 100× slower on these tiny images (measured: 0.5 s against 5 ms per FFDNet call).
    upbench_tch::tch::set_num_threads(1);
    every_kind_with_the_default_step();
    the_other_data_steps_conform_too();
}

fn every_kind_with_the_default_step() {
    point_at_models();
    for kind in TaskKind::ALL {
        let (denoiser, steps) = if kind.is_image() { ("ffdnet", 3) } else { ("exact", 12) };
        for eta in [0.0, 1.0] {
            let params = testing::params_with::<PnpSampler>(&[
                ("denoiser", ParamValue::Text(denoiser.into())),
                ("steps", ParamValue::Int(steps)),
                ("eta", ParamValue::Float(eta)),
            ]);
            let report = testing::check_plugin(testing::module::<PnpSampler>(), &params, &testing::standard_task(kind));
            report.assert_passed();
            assert_eq!(report.stochastic, Some(eta > 0.0), "{report}");
        }
    }
}

/// Exact tasks with DiffPIR's proximal step; noisy image tasks with the Tweedie step.
fn the_other_data_steps_conform_too() {
    point_at_models();
    let cases = [
        (TaskKind::SuperResolution, "exact", "prox"),
        (TaskKind::ImageSuperResolution, "ffdnet", "tweedie"),
        (TaskKind::ImageDenoising, "ffdnet", "tweedie"),
    ];
    for (kind, denoiser, step) in cases {
        let params = testing::params_with::<PnpSampler>(&[
            ("denoiser", ParamValue::Text(denoiser.into())),
            ("data_step", ParamValue::Text(step.into())),
            ("steps", ParamValue::Int(3)),
            ("eta", ParamValue::Float(0.5)),
        ]);
        let report = testing::check_plugin(testing::module::<PnpSampler>(), &params, &testing::standard_task(kind));
        report.assert_passed();
        assert_eq!(report.stochastic, Some(true), "{report}");
    }
}

/// Each bad value is an `InvalidParameter` naming it, even with a weights file that does not
/// exist: the parameters are checked before anything is loaded.
#[test]
fn bad_parameters_are_named_before_any_model_loads() {
    let _generator = generator();
    let cases: [(&str, ParamValue); 10] = [
        ("eta", ParamValue::Float(1.5)),
        ("eta", ParamValue::Float(f64::NAN)),
        ("steps", ParamValue::Int(0)),
        ("denoiser", ParamValue::Text("bm3d".into())),
        ("data_step", ParamValue::Text("svd".into())),
        ("lambda", ParamValue::Float(0.0)),
        ("cg_iterations", ParamValue::Int(-1)),
        ("sigma_max", ParamValue::Float(-0.1)),
        ("sigma_min", ParamValue::Float(f64::INFINITY)),
        ("sigma_min", ParamValue::Float(0.5)),
    ];
    let task = testing::standard_task(TaskKind::ImageSuperResolution);
    for (name, value) in cases {
        let mut overrides = vec![("weights", ParamValue::Text("/nonexistent/ffdnet.safetensors".into()))];
        if name == "sigma_min" {
            overrides.push(("sigma_max", ParamValue::Float(0.2)));
        }
        overrides.push((name, value.clone()));
        let params = testing::params_with::<PnpSampler>(&overrides);
        let err = testing::module::<PnpSampler>().new_model()(&params, &task).into_result().map(|_| ()).unwrap_err();
        match PluginError::from(err) {
            PluginError::InvalidParameter { name: got, .. } => assert_eq!(got.as_str(), name, "{value:?}"),
            other => panic!("{name} = {value:?}: expected InvalidParameter, got {other}"),
        }
    }
    // The right denoiser for the task's kind, named too.
    let params = testing::params_with::<PnpSampler>(&[("denoiser", ParamValue::Text("exact".into()))]);
    let err = testing::module::<PnpSampler>().new_model()(&params, &task).into_result().map(|_| ()).unwrap_err();
    assert!(
        matches!(PluginError::from(err), PluginError::InvalidParameter { ref name, .. } if name.as_str() == "denoiser")
    );
    // The Tweedie step on noise-free inpainting, refused by name.
    let params = testing::params_with::<PnpSampler>(&[("data_step", ParamValue::Text("tweedie".into()))]);
    let inpainting = testing::standard_task(TaskKind::ImageInpainting);
    point_at_models();
    let err = testing::module::<PnpSampler>().new_model()(&params, &inpainting).into_result().map(|_| ()).unwrap_err();
    assert!(
        matches!(PluginError::from(err), PluginError::InvalidParameter { ref name, .. } if name.as_str() == "data_step")
    );
    // A missing weights file is an error that names the file, not a panic.
    let params =
        testing::params_with::<PnpSampler>(&[("weights", ParamValue::Text("/nonexistent/ffdnet.safetensors".into()))]);
    let err = testing::module::<PnpSampler>().new_model()(&params, &task).into_result().map(|_| ()).unwrap_err();
    assert!(PluginError::from(err).to_string().contains("/nonexistent/ffdnet.safetensors"));
}
