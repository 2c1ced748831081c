//! The evaluation protocol of the NCF paper (He et al., 2017): each user's latest interaction is
//! held out and ranked among 99 items the user never touched; HR@10 is the share of users whose
//! held-out item lands in the top 10, NDCG@10 rewards it by position. Full-catalog recall@20 ranks
//! it among every item the user has not trained on, which is what the marketplace shows.
//!
//! Ties are broken by expectation, not by accident of order: an item tied with `t` others counts
//! as each of those positions with equal chance, so a model that scores everything alike gets the
//! score of a random ranking, never a lucky one.

use crate::data::{Interaction, Split};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Sampled negatives per held-out item, as in the NCF paper.
pub const NEGATIVES: usize = 99;
/// Users scored against the whole catalog for recall@20 (evenly spread over the held-out users).
pub const RECALL_USERS: usize = 2_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub hr_at_10: f64,
    pub ndcg_at_10: f64,
    pub recall_at_20: f64,
    /// Held-out users the figures average over.
    pub users: usize,
}

/// The held-out item of each user and the negatives it is ranked against: fixed by the split and
/// the seed, so every model evaluated on it faces the same question.
#[derive(Clone, Debug)]
pub struct Holdout {
    pub cases: Vec<Case>,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub held_out: Interaction,
    pub negatives: Vec<u32>,
}

impl Holdout {
    pub fn sample(split: &Split, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_e7a1);
        let cases = split
            .holdout
            .iter()
            .map(|held_out| {
                let seen = split.seen.of(held_out.user);
                let unseen = split.items.saturating_sub(seen.len());
                let wanted = NEGATIVES.min(unseen);
                let mut negatives = Vec::with_capacity(wanted);
                while negatives.len() < wanted {
                    let item = rng.random_range(0..split.items as u32);
                    if seen.binary_search(&item).is_err() && !negatives.contains(&item) {
                        negatives.push(item);
                    }
                }
                Case {
                    held_out: *held_out,
                    negatives,
                }
            })
            .collect();
        Holdout { cases }
    }
}

/// Scores `items` for `user` into `scores` (same length); higher ranks first.
pub trait Scorer {
    fn score(&self, user: u32, items: &[u32], scores: &mut [f32]);
}

impl<F: Fn(u32, &[u32], &mut [f32])> Scorer for F {
    fn score(&self, user: u32, items: &[u32], scores: &mut [f32]) {
        self(user, items, scores)
    }
}

/// HR@10 and NDCG@10 over `holdout`, recall@20 over the whole catalog.
pub fn evaluate(split: &Split, holdout: &Holdout, scorer: &dyn Scorer) -> Metrics {
    if holdout.cases.is_empty() {
        return Metrics::default();
    }
    let (mut hits, mut gain) = (0.0, 0.0);
    let mut items = Vec::with_capacity(NEGATIVES + 1);
    let mut scores = Vec::new();
    for case in &holdout.cases {
        items.clear();
        items.push(case.held_out.item);
        items.extend_from_slice(&case.negatives);
        scores.resize(items.len(), 0.0);
        scorer.score(case.held_out.user, &items, &mut scores);
        let (hit, g) = expected_hit_and_gain(scores[0], &scores[1..], 10);
        hits += hit;
        gain += g;
    }
    let n = holdout.cases.len() as f64;
    Metrics {
        hr_at_10: hits / n,
        ndcg_at_10: gain / n,
        recall_at_20: full_catalog_recall(split, holdout, scorer, 20),
        users: holdout.cases.len(),
    }
}

fn full_catalog_recall(split: &Split, holdout: &Holdout, scorer: &dyn Scorer, k: usize) -> f64 {
    let step = holdout.cases.len().div_ceil(RECALL_USERS).max(1);
    let all: Vec<u32> = (0..split.items as u32).collect();
    let mut scores = vec![0.0; all.len()];
    let mut others = Vec::with_capacity(all.len());
    let (mut hits, mut users) = (0.0, 0usize);
    for case in holdout.cases.iter().step_by(step) {
        let user = case.held_out.user;
        scorer.score(user, &all, &mut scores);
        let seen = split.seen.of(user);
        others.clear();
        others.extend(
            all.iter()
                .zip(&scores)
                .filter(|(item, _)| {
                    **item != case.held_out.item && seen.binary_search(item).is_err()
                })
                .map(|(_, s)| *s),
        );
        hits += expected_hit_and_gain(scores[case.held_out.item as usize], &others, k).0;
        users += 1;
    }
    hits / users as f64
}

/// The expected hit (position < k) and DCG of an item scored `target` among `others`, with ties
/// placed uniformly at random.
pub fn expected_hit_and_gain(target: f32, others: &[f32], k: usize) -> (f64, f64) {
    let target = if target.is_nan() {
        f32::NEG_INFINITY
    } else {
        target
    };
    let greater = others.iter().filter(|s| **s > target).count();
    let ties = others.iter().filter(|s| **s == target).count();
    let (mut hit, mut gain) = (0.0, 0.0);
    for position in greater..=greater + ties {
        if position < k {
            hit += 1.0;
            gain += 1.0 / ((position + 2) as f64).log2();
        }
    }
    let chances = (ties + 1) as f64;
    (hit / chances, gain / chances)
}

/// The popularity baseline: an item scores the number of users who trained on it.
pub fn popularity(train: &[Interaction], items: usize) -> Vec<f32> {
    let mut counts = vec![0f32; items];
    for row in train {
        counts[row.item as usize] += 1.0;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_ties_by_hand() {
        // Third place: DCG = 1/log2(4) = 0.5.
        assert_eq!(expected_hit_and_gain(5.0, &[9.0, 7.0, 1.0], 10), (1.0, 0.5));
        // First, tied with one other: half first (1.0), half second (1/log2 3).
        let (hit, gain) = expected_hit_and_gain(2.0, &[2.0, 1.0], 10);
        assert_eq!(hit, 1.0);
        assert!((gain - (1.0 + 1.0 / 3f64.log2()) / 2.0).abs() < 1e-12);
        // Eleventh: a miss.
        assert_eq!(expected_hit_and_gain(0.0, &[1.0; 10], 10), (0.0, 0.0));
        // Tied with all 99 others: hit with chance 10/100.
        let (hit, _) = expected_hit_and_gain(0.0, &[0.0; 99], 10);
        assert!((hit - 0.1).abs() < 1e-12);
    }

    #[test]
    fn a_tiny_catalog_scored_by_hand() {
        // Twelve items; u0 trained on 0 and 1 and holds out 2, u1 trained on 5 and holds out 11.
        let row = |user, item, at| Interaction {
            user,
            item,
            weight: 1.0,
            at,
        };
        let rows = [
            row(0, 0, 0),
            row(0, 1, 1),
            row(0, 2, 2),
            row(1, 5, 1),
            row(1, 11, 2),
        ];
        let split = Split {
            users: 2,
            items: 12,
            train: vec![rows[0], rows[1], rows[3]],
            holdout: vec![rows[2], rows[4]],
            seen: crate::data::SeenItems::new(2, &rows),
            trained: crate::data::SeenItems::new(2, &[rows[0], rows[1], rows[3]]),
        };
        let holdout = Holdout::sample(&split, 1);
        // Twelve items, each user saw some: the negatives are every item the user never saw.
        assert_eq!(holdout.cases[0].negatives.len(), 9);
        assert_eq!(holdout.cases[1].negatives.len(), 10);
        for case in &holdout.cases {
            assert!(
                !case
                    .negatives
                    .iter()
                    .any(|n| split.seen.contains(case.held_out.user, *n))
            );
        }
        // Scores: the item's number, so u1's held-out i02 ranks below i03..i11 (tenth of ten
        // candidates: hit, DCG 1/log2(11)); u2's i11 ranks first (DCG 1).
        let by_number = |_: u32, items: &[u32], scores: &mut [f32]| {
            for (s, i) in scores.iter_mut().zip(items) {
                *s = *i as f32;
            }
        };
        let m = evaluate(&split, &holdout, &by_number);
        assert_eq!(m.users, 2);
        assert!((m.hr_at_10 - 1.0).abs() < 1e-12);
        assert!((m.ndcg_at_10 - (1.0 / 11f64.log2() + 1.0) / 2.0).abs() < 1e-12);
        // Full catalog, top 20 of at most eleven unseen items: both are hits.
        assert_eq!(m.recall_at_20, 1.0);
        // Reversed scores: u1's i02 is now above i03..i11 but below nothing unseen → first;
        // u2's i11 is last of eleven: a miss at 10.
        let reversed = |u: u32, items: &[u32], scores: &mut [f32]| {
            by_number(u, items, scores);
            scores.iter_mut().for_each(|s| *s = -*s);
        };
        let m = evaluate(&split, &holdout, &reversed);
        assert!((m.hr_at_10 - 0.5).abs() < 1e-12);
        assert!((m.ndcg_at_10 - 0.5).abs() < 1e-12);
    }
}
