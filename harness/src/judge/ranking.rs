//! Ranking and frontiers: the order in which a task's judgements are reported and the tightest
//! bound on N(X|Y) they prove. Both work on [`Judgement`]s alone, so that the one place that
//! assembles a run's report ([`crate::assemble`]) applies them to any records.

use std::cmp::Ordering;

use super::Judgement;
use crate::estimate::Estimate;

/// The report order of two judgements of one task: valid ones by |ln(U / bound)|, closest to
/// the bound first (by U, lowest first, when the task has no bound); invalid ones last.
pub fn report_order(a: &Judgement, b: &Judgement) -> Ordering {
    let key = |j: &Judgement| {
        let ratio = j.bound_ratio.point;
        let distance = if ratio.is_nan() { j.uncertainty.point.ln() } else { ratio.ln().abs() };
        (!j.validity.is_valid(), distance)
    };
    let (ka, kb) = (key(a), key(b));
    ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
}

/// The empirical frontier of one task: the position of the valid judgement that proves the least
/// N̂ = U / η(P; d) (Theorem 3 applied to each measured model), with that N̂; `None` when no
/// valid judgement proves a finite, positive bound.
pub fn frontier<'a>(judgements: impl IntoIterator<Item = &'a Judgement>) -> Option<(usize, Estimate)> {
    judgements
        .into_iter()
        .enumerate()
        .filter(|(_, j)| j.validity.is_valid() && proves_a_bound(j))
        .min_by(|(_, a), (_, b)| a.implied_inherent.point.total_cmp(&b.implied_inherent.point))
        .map(|(i, j)| (i, j.implied_inherent))
}

/// N̂ of the frontier over this judgement's own: 1 for the model that proves the tightest bound;
/// `None` where the judgement proves none.
pub fn efficiency(frontier: &Estimate, judgement: &Judgement) -> Option<f64> {
    proves_a_bound(judgement).then(|| frontier.point / judgement.implied_inherent.point)
}

fn proves_a_bound(j: &Judgement) -> bool {
    j.implied_inherent.point.is_finite() && j.implied_inherent.point > 0.0
}
