//! The one assembly of a [`RunReport`] from a run's records, for a run's journal, merged shards
//! and `upbench judge` alike: each task's results in report order with their ranks
//! ([`ranking::report_order`]), each task's empirical frontier and each result's efficiency
//! against it ([`ranking::frontier`]).

use crate::judge::ranking;
use crate::record::{
    ConfigResult, Failure, Frontier, Incomplete, Manifest, Profile, RunReport, TaskSummary, SCHEMA_VERSION,
};

/// What a run recorded, before ranking.
pub struct RunRecords {
    /// Provenance.
    pub manifest: Manifest,
    /// Tasks, in the order to report them (one per patch side for image tasks).
    pub tasks: Vec<TaskSummary>,
    /// Every result, of every task, in plan order; ranks and efficiencies are set here.
    pub results: Vec<ConfigResult>,
    /// What failed, in the order to report it.
    pub failures: Vec<Failure>,
    /// What an interrupted run lacks.
    pub incomplete: Option<Incomplete>,
    /// Where the run's time went.
    pub profile: Option<Profile>,
}

/// The report of `records`: results grouped by task in the tasks' order (results of a task not
/// listed are dropped, as they cannot be judged against it), ranked within each task, with each
/// task's frontier and each result's efficiency.
pub fn run_report(records: RunRecords) -> RunReport {
    let RunRecords { manifest, tasks, mut results, failures, incomplete, profile } = records;
    let mut ranked = Vec::with_capacity(results.len());
    let mut frontiers = Vec::new();
    for task in &tasks {
        let (mut mine, rest): (Vec<ConfigResult>, Vec<ConfigResult>) =
            results.into_iter().partition(|r| r.task == task.name);
        results = rest;
        mine.sort_by(|a, b| ranking::report_order(&a.judgement, &b.judgement));
        let best = ranking::frontier(mine.iter().map(|r| &r.judgement)).map(|(i, inherent)| Frontier {
            task: task.name.clone(),
            inherent,
            label: mine[i].label.clone(),
        });
        for (i, r) in mine.iter_mut().enumerate() {
            r.rank = i + 1;
            r.efficiency = best.as_ref().and_then(|b| ranking::efficiency(&b.inherent, &r.judgement));
        }
        frontiers.extend(best);
        ranked.extend(mine);
    }
    RunReport {
        schema_version: SCHEMA_VERSION,
        manifest,
        tasks,
        results: ranked,
        failures,
        incomplete,
        profile,
        frontiers,
    }
}
