//! Calibration of samplers' spread (issue [16]) on exact tasks, where the answer is known: the
//! exact posterior sampler's truth ranks are uniform and its central intervals cover at their
//! finite-K nominal level; a sampler spread wider than the posterior (`overdispersed-sampler`)
//! covers too often; γ-optimal with γ < 1 (spread √γ of the posterior's) too rarely; a
//! deterministic model has no calibration.

use std::sync::OnceLock;

use upbench::judge::calibration::CalibrationVerdict;
use upbench::record::RunReport;

use crate::util::{result, run, SuiteBuilder};

fn report() -> &'static RunReport {
    static REPORT: OnceLock<RunReport> = OnceLock::new();
    REPORT.get_or_init(|| {
        let suite = SuiteBuilder::new(16)
            .sampling(64, 99)
            .task(
                "d16",
                r#"dim = 16
                prior = { kind = "ar1", rho = 0.8 }
                operator = { kind = "denoising", noise_std = 0.5 }"#,
            )
            .plugin("posterior-mean")
            .plugin("posterior-sampler")
            .plugin_with("gamma-optimal", "gamma = 0.5")
            .plugin_with("overdispersed-sampler", "spread = 1.5");
        run(&suite.toml())
    })
}

#[test]
fn the_exact_posterior_sampler_is_calibrated() {
    let calibration = result(report(), "d16", "posterior-sampler").calibration.as_ref().expect("a stochastic row");
    assert_eq!(calibration.verdict, CalibrationVerdict::Calibrated, "{}", calibration.reason);
    let c = &calibration.measured;
    assert_eq!((c.samples, c.observations, c.coordinates), (99, 64, 16));
    assert_eq!(c.rank_histogram.iter().sum::<u64>(), 64 * 16);
    for coverage in &c.coverage {
        let ci = &coverage.estimate.ci;
        assert!(ci.lower <= coverage.nominal && coverage.nominal <= ci.upper, "{coverage:?}");
    }
    // K = 99: the finite-K nominal levels are the asked ones exactly.
    let nominal: Vec<f64> = c.coverage.iter().map(|v| v.nominal).collect();
    assert_eq!(nominal, [0.5, 0.8, 0.9]);
    assert!(c.uniformity.p_value > 0.01, "{:?}", c.uniformity);
}

#[test]
fn a_wider_spread_is_underconfident_and_a_narrower_one_overconfident() {
    let verdict = |label: &str| {
        let calibration = result(report(), "d16", label).calibration.as_ref().expect("a stochastic row");
        (calibration.verdict, calibration.reason.clone())
    };
    let (wide, why) = verdict("overdispersed-sampler(spread=1.5)");
    assert_eq!(wide, CalibrationVerdict::Underconfident, "{why}");
    let (narrow, why) = verdict("gamma-optimal(gamma=0.5)");
    assert_eq!(narrow, CalibrationVerdict::Overconfident, "{why}");
    assert!(why.contains("too small"), "{why}");
}

#[test]
fn a_deterministic_model_has_no_calibration() {
    assert!(result(report(), "d16", "posterior-mean").calibration.is_none());
}

/// The verdicts and coverage reach every place a reader looks: the terminal's narrow table at
/// the piped width, the wide table (`table.txt`, `--wide`, `report.md`) and `results.csv`, each
/// value the record's.
#[test]
fn every_table_and_the_csv_show_each_samplers_spread() {
    use upbench::report::{CsvExporter, Exporter, MarkdownExporter, TableExporter, TableLayout, PIPED_WIDTH};
    let report = report();
    let sampler = result(report, "d16", "posterior-sampler").calibration.as_ref().expect("a stochastic row");
    let ninety = sampler.measured.coverage.last().expect("three levels");
    let narrow = TableExporter { layout: TableLayout::Fit(PIPED_WIDTH) }.render(report);
    let row = |text: &str, label: &str| -> String {
        text.lines().find(|l| l.contains(label)).unwrap_or_else(|| panic!("no row {label} in\n{text}")).to_string()
    };
    assert!(narrow.contains("spread"), "{narrow}");
    assert!(row(&narrow, "posterior-sampler").contains("calibrated"), "{narrow}");
    assert!(row(&narrow, "overdispersed").contains("underconfident"), "{narrow}");
    assert!(row(&narrow, "posterior-mean").contains('—'), "{narrow}");
    let wide = TableExporter { layout: TableLayout::Wide }.render(report);
    let shown = format!("{:.4} [", ninety.estimate.point);
    assert!(row(&wide, "posterior-sampler").contains(&shown), "{shown} in\n{wide}");
    assert!(row(&wide, "gamma-optimal").contains("overconfident"), "{wide}");
    let markdown = String::from_utf8(MarkdownExporter.serialize(report).unwrap()).unwrap();
    assert!(row(&markdown, "posterior-sampler").contains("| calibrated |"), "{markdown}");
    let csv = String::from_utf8(CsvExporter.serialize(report).unwrap()).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let line = row(&csv, ",posterior-sampler,");
    let cells: Vec<&str> = line.split(',').collect();
    let cell = |name: &str| cells[header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no {name}"))];
    assert_eq!(cell("calibration"), "calibrated");
    assert_eq!(cell("coverage_90").parse::<f64>().unwrap(), ninety.estimate.point);
    assert_eq!(cell("coverage_90_nominal").parse::<f64>().unwrap(), ninety.nominal);
    assert_eq!(cell("rank_uniformity_p").parse::<f64>().unwrap(), sampler.measured.uniformity.p_value);
    let deterministic = row(&csv, ",posterior-mean,");
    let cells: Vec<&str> = deterministic.split(',').collect();
    assert_eq!(cells[header.iter().position(|h| *h == "calibration").unwrap()], "");
}

/// The page's rank-histogram and coverage plots draw the records: every stochastic
/// configuration's histogram grouped into 20 bins of 5 ranks (K = 99) whose shares sum to 1 and
/// are its counts', and one point per level at the finite-K nominal with the measured coverage;
/// `plots::figures` yields both figures for the task.
#[test]
fn the_calibration_plots_draw_the_records() {
    use upbench::report::plots::calibration::CalibrationPlot;
    let report = report();
    let plot = CalibrationPlot::of(report, "d16").expect("stochastic configurations");
    let labels: Vec<&str> = plot.configurations.iter().map(|c| c.label.as_str()).collect();
    let stochastic: Vec<&str> =
        report.results.iter().filter(|r| r.calibration.is_some()).map(|r| r.label.as_str()).collect();
    assert_eq!(labels, stochastic);
    assert_eq!(labels.len(), 3);
    for c in &plot.configurations {
        let record = result(report, "d16", &c.label).calibration.as_ref().unwrap();
        assert_eq!(c.verdict, record.verdict);
        let counts = &record.measured.rank_histogram;
        let total = counts.iter().sum::<u64>() as f64;
        assert_eq!(c.bins.len(), 20);
        let frequencies: Vec<f64> = c.bins.iter().map(|b| b.frequency).collect();
        assert!((frequencies.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{frequencies:?}");
        for (b, bin) in c.bins.iter().enumerate() {
            assert_eq!((bin.first, bin.end), (5 * b, 5 * b + 5));
            assert_eq!(bin.frequency, counts[5 * b..5 * b + 5].iter().sum::<u64>() as f64 / total);
            assert_eq!(bin.height, bin.frequency, "even bins are drawn at their frequency");
        }
        assert_eq!(c.coverage.len(), record.measured.coverage.len());
        for (point, coverage) in c.coverage.iter().zip(&record.measured.coverage) {
            assert_eq!((point.level, point.nominal), (coverage.level, coverage.nominal));
            assert_eq!(point.measured, coverage.estimate);
        }
    }
    let figures = upbench::report::plots::figures(report).unwrap();
    for name in ["rank-histogram-d16", "coverage-d16"] {
        let figure = figures.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no {name}"));
        assert!(labels.iter().all(|l| figure.svg.contains(l)), "{name}: a legend entry per configuration");
        assert!(image::load_from_memory(&figure.png).is_ok(), "{name}");
        // to look at them: UPBENCH_KEEP_PLOTS=<existing directory>
        if let Some(dir) = std::env::var_os("UPBENCH_KEEP_PLOTS") {
            std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), &figure.png).unwrap();
        }
    }
}
