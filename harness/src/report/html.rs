//! `index.html`: the whole run on one self-contained page (no scripts, no external files: plots
//! are inline SVG, image grids are data: URLs), readable offline and attachable to a review.

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine;

use super::plots::figure5::{Measure, MeasurePlot};
use super::plots::{figure5_name, Figure};
use super::scores::{
    footnote, global_failures, incomplete_notice, metric_title, scores, sig, with_ci, IntervalStyle, GROUND_TRUTH,
};
use crate::draw::file_stem;
use crate::judge::Region;
use crate::record::{score_of, ConfigResult, QualityScore, RunReport, TaskQuality, TaskSummary};

/// Text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body { font-family: 'DejaVu Sans', system-ui, sans-serif; margin: 0 auto; max-width: 1400px; padding: 0 1.5em 3em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
.meta { color: #555; } nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.86em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.impossible { background: #f4b6b6; } td.optimal-band { background: #bfe3b4; } td.suboptimal { background: #eeeeee; }
td.below-estimated-bound { background: #f9dcdc; } td.invalid { color: #a11; }
.figures { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure { margin: 0; max-width: 860px; } figcaption { font-size: 0.85em; color: #444; max-width: 860px; }
svg.plot { max-width: 100%; height: auto; border: 1px solid #eee; }
img.grid { max-width: 100%; image-rendering: pixelated; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.8em; }
.failure { color: #a11; white-space: pre-wrap; }
";

/// The page. `run_dir` is where the image grids named by results are read from.
pub fn render(report: &RunReport, figures: &[Figure], run_dir: &Path) -> String {
    let mut page = header(report);
    page.push_str(&task_sections(report, figures, run_dir));
    page.push_str(&plugin_sections(report));
    let global = global_failures(report);
    if !global.is_empty() {
        page.push_str("<h2>Failures</h2>\n<ul>\n");
        for f in global {
            let _ = writeln!(page, "<li class=\"failure\">{}</li>", escape(&f));
        }
        page.push_str("</ul>\n");
    }
    page.push_str("<h2 id=\"bound\">The bound</h2>\n");
    if let Some(f) = figures.iter().find(|f| f.name == "eta") {
        page.push_str(&figure(f));
    }
    let _ = writeln!(page, "<p><i>{}</i></p>", escape(&footnote(report, IntervalStyle::Brackets)));
    let manifest = serde_json::to_string_pretty(&report.manifest).unwrap_or_else(|e| format!("(cannot render: {e})"));
    let _ = write!(page, "<h2 id=\"manifest\">Manifest</h2>\n<pre>{}</pre>\n</body>\n</html>\n", escape(&manifest));
    page
}

/// The page's head, the run's line, its notices and the navigation.
fn header(report: &RunReport) -> String {
    let m = &report.manifest;
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>upbench — {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&m.run_id)
    );
    let _ = write!(
        page,
        "<h1>upbench run {}</h1>\n<p class=\"meta\">Suite <b>{}</b> ({}) · seed {} · {} · libtorch {} · upbench {} ({}) · started {} · {:.1} s</p>\n",
        escape(&m.run_id),
        escape(&m.suite),
        escape(&m.suite_origin),
        m.seed,
        escape(&m.device),
        escape(&m.libtorch_version),
        escape(&m.upbench_version),
        escape(&m.git_commit),
        escape(&m.started_at),
        m.wall_secs
    );
    if let Some(notice) = incomplete_notice(report) {
        let _ = writeln!(page, "<p class=\"failure\"><b>{}</b></p>", escape(&notice));
    }
    page.push_str(
        "<p>Each model configuration's <b>uncertainty</b> U (entropy power of its error, per dimension) and \
         <b>perception index</b> P (Rényi-½ divergence from the true posterior, nats) against the bound \
         U ≥ η(P; d)·N(X|Y) of Cohen et al. (NeurIPS 2024): below it is the impossible region; perfect perception \
         costs at least twice the inherent uncertainty.</p>\n<nav>",
    );
    for task in &report.tasks {
        let _ = write!(page, "<a href=\"#task-{}\">{}</a>", file_stem(&task.name), escape(&task.name));
    }
    page.push_str(
        "<a href=\"#plugins\">plugins</a><a href=\"#bound\">η(P; d)</a><a href=\"#manifest\">manifest</a></nav>\n",
    );

    page
}

/// Each task's table, failures, notes, figures, per-image scores and sample grids.
fn task_sections(report: &RunReport, figures: &[Figure], run_dir: &Path) -> String {
    let mut page = String::new();
    for task in scores(report) {
        let stem = file_stem(&task.task);
        let _ = write!(page, "<h2 id=\"task-{stem}\">{}</h2>\n<p>{}</p>\n", escape(&task.task), escape(&task.caption));
        page.push_str(&html_table(&task.header, &task.numeric, &task.rows, Some((task.region_column, &task.regions))));
        for f in &task.failures {
            let _ = writeln!(page, "<p class=\"failure\">failed: {}</p>", escape(f));
        }
        for note in &task.notes {
            let _ = writeln!(page, "<p class=\"note\">{}</p>", escape(note));
        }
        page.push_str("<div class=\"figures\">\n");
        for kind in ["plane", "distortion", "rank-histogram", "coverage"] {
            if let Some(f) = figures.iter().find(|f| f.name == format!("{kind}-{stem}")) {
                page.push_str(&figure(f));
            }
        }
        page.push_str("</div>\n");
        page.push_str(&figure5_section(report, figures, &task.task));
        let results: Vec<&ConfigResult> = report.results.iter().filter(|r| r.task == task.task).collect();
        let summary = report.tasks.iter().find(|t| t.name == task.task);
        page.push_str(&per_image(&results, summary.and_then(|t| t.image.as_ref()?.quality.as_ref())));
        if report.tasks.iter().any(|t| t.name == task.task && is_first_patch_side(report, t)) {
            page.push_str(&grids(&results, run_dir));
        }
    }

    page
}

/// Image tasks: the seed paper's Figure 5, U against each measure, one figure per measure, and
/// the measures without one, with why.
fn figure5_section(report: &RunReport, figures: &[Figure], task: &str) -> String {
    let Some(summary) = report.tasks.iter().find(|t| t.name == task && t.image.is_some()) else { return String::new() };
    let mut page = format!(
        "<section class=\"figure5\" id=\"figure5-{}\">\n<h3>Uncertainty against each measure (the seed paper's Figure 5)</h3>\n\
         <p>As Figure 5 of Cohen et al. (NeurIPS 2024), over this run's configurations: U against each perception \
         measure (the theory's P and the per-image quality metrics) and each distortion measure against U, with \
         both intervals and Spearman's ρ. The plotted values are those of results.json (also in plots/).</p>\n\
         <div class=\"figures\">\n",
        file_stem(task)
    );
    let mut skipped = Vec::new();
    for measure in Measure::all(summary) {
        match figures.iter().find(|f| f.name == figure5_name(task, &measure)) {
            Some(f) => page.push_str(&figure(f)),
            None => {
                let reason = MeasurePlot::of(report, task, &measure).err().map_or_else(String::new, |s| s.reason);
                skipped.push(format!("{}: {reason}", measure.title()));
            }
        }
    }
    page.push_str("</div>\n");
    for s in skipped {
        let _ = writeln!(page, "<p class=\"note\">Not drawn: {}</p>", escape(&s));
    }
    page.push_str("</section>\n");
    page
}

/// Each plugin's library and its rows over every task.
fn plugin_sections(report: &RunReport) -> String {
    let mut page = String::new();
    page.push_str("<h2 id=\"plugins\">Plugins</h2>\n");
    for plugin in &report.manifest.plugins {
        let _ = write!(
            page,
            "<h3 id=\"plugin-{}\">{} {}</h3>\n<p class=\"meta\">{} · SHA-256 {} · built against upbench-sdk {}</p>\n",
            file_stem(&plugin.name),
            escape(&plugin.name),
            escape(&plugin.version),
            escape(&plugin.path),
            escape(&plugin.sha256),
            escape(&plugin.sdk_version)
        );
        let results: Vec<&ConfigResult> = report.results.iter().filter(|r| r.plugin == plugin.name).collect();
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|r| {
                let j = &r.judgement;
                vec![
                    r.task.clone(),
                    r.label.clone(),
                    with_ci(&j.uncertainty),
                    with_ci(&j.perception_nats),
                    with_ci(&j.bound_ratio),
                    j.region.to_string(),
                    j.validity.to_string(),
                ]
            })
            .collect();
        if rows.is_empty() {
            page.push_str("<p>No results.</p>\n");
        } else {
            let header = ["task", "configuration", "U", "P (nats)", "U / bound", "region", "verdict"];
            let regions: Vec<Region> = results.iter().map(|r| r.judgement.region).collect();
            page.push_str(&html_table(&header, &[false; 7], &rows, Some((5, &regions))));
        }
    }
    page
}

/// Whether `task` is the first patch side of its image task (grids are shown once per task).
fn is_first_patch_side(report: &RunReport, task: &TaskSummary) -> bool {
    task.image.is_some()
        && report.tasks.iter().find(|t| t.suite_task() == task.suite_task()).is_some_and(|t| t.name == task.name)
}

/// An HTML table of text cells; `regions` (a column and each row's region) colours that column's
/// cells by the region itself, not by their text.
fn html_table(header: &[&str], numeric: &[bool], rows: &[Vec<String>], regions: Option<(usize, &[Region])>) -> String {
    let mut out = String::from("<table>\n<tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for (index, row) in rows.iter().enumerate() {
        out.push_str("<tr>");
        for (i, text) in row.iter().enumerate() {
            let mut classes = Vec::new();
            if numeric.get(i).copied().unwrap_or(false) {
                classes.push("num".to_string());
            }
            if let Some(region) = regions.filter(|(column, _)| *column == i).and_then(|(_, r)| r.get(index)) {
                classes.push(region_class(*region).to_string());
            }
            if text.starts_with("INVALID") {
                classes.push("invalid".into());
            }
            let class = if classes.is_empty() { String::new() } else { format!(" class=\"{}\"", classes.join(" ")) };
            let _ = write!(out, "<td{class}>{}</td>", escape(text));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// The CSS class of a region cell.
fn region_class(region: Region) -> &'static str {
    match region {
        Region::Impossible => "impossible",
        Region::OptimalBand => "optimal-band",
        Region::Suboptimal => "suboptimal",
        Region::Undecided => "undecided",
        Region::Unplaced => "unplaced",
        Region::BelowEstimatedBound => "below-estimated-bound",
    }
}

fn figure(f: &Figure) -> String {
    let svg = f.svg.trim_start_matches(|c| c != '<');
    let svg = svg.strip_prefix("<?xml").map_or(svg, |rest| rest.split_once("?>").map_or(rest, |(_, s)| s.trim_start()));
    let svg =
        svg.replacen("<svg ", &format!("<svg class=\"plot\" role=\"img\" aria-label=\"{}\" ", escape(&f.title)), 1);
    format!("<figure>\n{svg}\n<figcaption><b>{}</b> {}</figcaption>\n</figure>\n", escape(&f.title), escape(&f.caption))
}

/// Image tasks: each image's scores per configuration, folded (a set has up to hundreds of
/// images), rows by image in the set's order and then by the table's rank.
fn per_image(results: &[&ConfigResult], quality: Option<&TaskQuality>) -> String {
    let Some(first) = results.iter().find(|r| !r.images.is_empty()) else { return String::new() };
    let optional = |v: Option<f64>| v.map_or_else(|| "left out".to_string(), sig);
    let metrics = quality.map_or(&[][..], |q| q.metrics.as_slice());
    let metric_cell = |scores: &[QualityScore], name: &str| score_of(scores, name).map_or_else(|| "—".to_string(), sig);
    let mut rows = Vec::new();
    for (index, image) in first.images.iter().enumerate() {
        for r in results {
            let Some(score) = r.images.get(index).filter(|s| s.image == image.image) else { continue };
            let mut row = vec![
                score.image.clone(),
                r.label.clone(),
                format!("{:.2}", score.psnr_y_db),
                format!("{:.4}", score.ssim),
                optional(score.uncertainty),
                optional(score.perception_nats),
            ];
            row.extend(metrics.iter().map(|m| metric_cell(&score.quality, &m.name)));
            rows.push(row);
        }
        let truth = quality.and_then(|q| q.ground_truth.iter().find(|g| g.image == image.image));
        if let Some(truth) = truth.filter(|_| !metrics.is_empty()) {
            let mut row = vec![image.image.clone(), GROUND_TRUTH.to_string()];
            row.extend(["—"; 4].map(String::from));
            row.extend(metrics.iter().map(|m| metric_cell(&truth.scores, &m.name)));
            rows.push(row);
        }
    }
    let mut header = vec!["image", "configuration", "PSNR-Y (dB)", "SSIM", "U", "P (nats)"];
    header.extend(metrics.iter().map(metric_title));
    let mut numeric = vec![false, false, true, true, true, true];
    numeric.extend(metrics.iter().map(|_| true));
    format!(
        "<details class=\"per-image\">\n<summary>Per image: {} images × {} configurations (also in images.csv)</summary>\n{}</details>\n",
        first.images.len(),
        results.len(),
        html_table(&header, &numeric, &rows, None)
    )
}

/// One image grid per configuration that has one, as data: URLs.
fn grids(results: &[&ConfigResult], run_dir: &Path) -> String {
    let with_grid: Vec<(&ConfigResult, &String)> =
        results.iter().flat_map(|r| r.sample_grids.iter().map(move |g| (*r, g))).collect();
    if with_grid.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h3>Samples</h3>\n<p>Per configuration and image: ground truth, measurement, one sample, \
         the mean of the samples, the per-pixel standard deviation over the samples (the hallucination map; zero for \
         a deterministic model) and the error |mean − truth|; both maps on one fixed colour scale (viridis, 0 to 0.25 of the intensity range) for every model.</p>\n",
    );
    for (r, path) in with_grid {
        let src = match std::fs::read(run_dir.join(path)) {
            Ok(bytes) => format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)),
            Err(e) => {
                let _ = writeln!(out, "<p class=\"failure\">{}: {} ({e})</p>", escape(&r.label), escape(path));
                continue;
            }
        };
        let _ = writeln!(
            out,
            "<figure><img class=\"grid\" alt=\"samples of {label}\" src=\"{src}\"><figcaption>{label}</figcaption></figure>",
            label = escape(&r.label)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn region_cells_get_their_colour_class() {
        assert_eq!(region_class(Region::OptimalBand), "optimal-band");
        assert_eq!(region_class(Region::BelowEstimatedBound), "below-estimated-bound");
    }
}
