//! A small gradient-boosted regression-tree ensemble (squared loss) on `Vec<f64>` features.
//!
//! Histogram based: each feature is cut into at most [`GbtConfig::max_bins`] quantile bins once, trees split on
//! bin boundaries, row subsampling per tree (stochastic gradient boosting) uses a fixed-seed xorshift generator,
//! so training is deterministic. Prediction compares raw values against the stored thresholds.

use serde::{Deserialize, Serialize};

use crate::LearnError;

/// Hyper-parameters of the ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbtConfig {
    /// Number of trees.
    pub n_trees: usize,
    /// Maximum tree depth (a depth-`d` tree has at most `2^d` leaves).
    pub max_depth: usize,
    /// Shrinkage applied to every tree.
    pub learning_rate: f64,
    /// Minimum number of rows in a leaf.
    pub min_leaf: usize,
    /// Fraction of rows each tree sees (0, 1].
    pub subsample: f64,
    /// L2 penalty on leaf values.
    pub lambda: f64,
    /// Maximum number of histogram bins per feature (2..=256).
    pub max_bins: usize,
    /// Seed of the row-subsampling generator.
    pub seed: u64,
}

impl Default for GbtConfig {
    fn default() -> Self {
        GbtConfig {
            n_trees: 200,
            max_depth: 5,
            learning_rate: 0.05,
            min_leaf: 20,
            subsample: 0.5,
            lambda: 1.0,
            max_bins: 64,
            seed: 0x5eed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Node {
    Split {
        feature: usize,
        threshold: f64,
        bin: usize,
        left: usize,
        right: usize,
    },
    Leaf(f64),
}

/// A fitted ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbt {
    base: f64,
    n_features: usize,
    /// Every tree's nodes, one tree after the other (children indices are absolute); compact so that the
    /// ensemble stays in cache when it is evaluated.
    nodes: Vec<Flat>,
    /// The value of every leaf, at its node's index (0 for splits).
    leaves: Vec<f64>,
    /// Index of each tree's root in `nodes`.
    roots: Vec<u32>,
    /// Deepest split level of any tree (leaves are at most this many steps from the root).
    depth: usize,
}

/// A node of a fitted tree: a split on `feature` at `value` (to `left` when `row[feature] <= value`, else to
/// `left + 1`). A leaf points to itself with `value = f64::MAX` (every finite row goes "left", i.e. stays), so every
/// walk takes exactly `depth` branch-free steps; its worth is in [`Gbt::leaves`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Flat {
    feature: u32,
    left: u32,
    value: f64,
}

/// Rows (or trees) walked down in lockstep by the evaluators.
const LANES: usize = 16;

/// Lays the trees out one after the other, each breadth first so that the two children of a split are adjacent
/// (`right = left + 1`): 16-byte nodes, and a child is chosen by adding the comparison's outcome.
fn flatten(trees: &[Vec<Node>]) -> (Vec<Flat>, Vec<f64>, Vec<u32>) {
    let mut nodes = Vec::new();
    let mut leaves = Vec::new();
    let mut roots = Vec::with_capacity(trees.len());
    for t in trees {
        let off = nodes.len();
        roots.push(off as u32);
        // `order[i]` is the tree-local index of the node placed at `off + i`.
        let mut order = vec![0usize];
        let mut i = 0;
        while i < order.len() {
            let node = match t[order[i]] {
                Node::Leaf(v) => {
                    leaves.push(v);
                    Flat {
                        feature: 0,
                        left: nodes.len() as u32,
                        value: f64::MAX,
                    }
                }
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                    ..
                } => {
                    let at = (off + order.len()) as u32;
                    leaves.push(0.0);
                    order.push(left);
                    order.push(right);
                    Flat {
                        feature: feature as u32,
                        left: at,
                        value: threshold,
                    }
                }
            };
            nodes.push(node);
            i += 1;
        }
    }
    (nodes, leaves, roots)
}

pub(crate) struct XorShift(u64);
impl XorShift {
    /// A generator whose state is the splitmix64 mix of `seed` (never zero).
    pub(crate) fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        XorShift(if z == 0 { 1 } else { z })
    }

    /// Uniform in [0, 1).
    pub(crate) fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Gbt {
    /// Fits the ensemble to rows `x` (all of the same length) and targets `y`.
    ///
    /// # Errors
    /// [`LearnError::InvalidConfig`] for bad hyper-parameters, [`LearnError::Mismatch`] for empty or ragged input
    /// or non-finite values.
    pub fn fit(x: &[Vec<f64>], y: &[f64], cfg: &GbtConfig) -> Result<Self, LearnError> {
        if cfg.max_depth == 0 || cfg.min_leaf == 0 || !(cfg.subsample > 0.0 && cfg.subsample <= 1.0) || !(2..=256).contains(&cfg.max_bins) {
            return Err(LearnError::InvalidConfig(format!("gradient boosting: {cfg:?}")));
        }
        if !(cfg.learning_rate > 0.0 && cfg.learning_rate.is_finite() && cfg.lambda >= 0.0 && cfg.lambda.is_finite()) {
            return Err(LearnError::InvalidConfig(format!("gradient boosting: {cfg:?}")));
        }
        let n = x.len();
        if n == 0 || y.len() != n {
            return Err(LearnError::Mismatch(format!(
                "gradient boosting needs as many targets as rows, got {n} rows and {} targets",
                y.len()
            )));
        }
        let d = x[0].len();
        if d == 0 {
            return Err(LearnError::Mismatch("gradient boosting needs at least one feature".into()));
        }
        if x.iter().any(|r| r.len() != d || r.iter().any(|v| !v.is_finite())) || y.iter().any(|v| !v.is_finite()) {
            return Err(LearnError::Mismatch("gradient boosting input is ragged or not finite".into()));
        }
        // Bin edges: quantiles of each feature; bin b holds values <= edges[b] (the last bin is unbounded).
        let mut edges: Vec<Vec<f64>> = Vec::with_capacity(d);
        let mut bins: Vec<Vec<u8>> = Vec::with_capacity(d);
        for f in 0..d {
            let mut col: Vec<f64> = x.iter().map(|r| r[f]).collect();
            col.sort_by(f64::total_cmp);
            let mut e: Vec<f64> = (1..cfg.max_bins).map(|b| col[(b * n / cfg.max_bins).min(n - 1)]).collect();
            e.dedup();
            bins.push(x.iter().map(|r| e.partition_point(|&t| t < r[f]) as u8).collect());
            edges.push(e);
        }
        let base = y.iter().sum::<f64>() / n as f64;
        let mut pred = vec![base; n];
        let mut rng = XorShift::new(cfg.seed);
        let mut trees = Vec::with_capacity(cfg.n_trees);
        let mut grad = vec![0.0; n];
        for _ in 0..cfg.n_trees {
            for i in 0..n {
                grad[i] = y[i] - pred[i];
            }
            let rows: Vec<u32> = (0..n as u32).filter(|_| cfg.subsample >= 1.0 || rng.next_f64() < cfg.subsample).collect();
            let mut tree = Vec::new();
            build(&mut tree, &rows, 0, &grad, &bins, &edges, cfg);
            for (i, p) in pred.iter_mut().enumerate() {
                *p += eval_binned(&tree, &bins, i);
            }
            trees.push(tree);
        }
        let (nodes, leaves, roots) = flatten(&trees);
        Ok(Gbt {
            base,
            n_features: d,
            nodes,
            leaves,
            roots,
            depth: cfg.max_depth,
        })
    }

    /// Checks the invariants prediction relies on (for a model read from a file): node and root indices in
    /// range, split features below [`Gbt::n_features`], one leaf value per node.
    ///
    /// # Errors
    /// What is wrong, as text.
    pub fn check(&self) -> Result<(), String> {
        let n = self.nodes.len();
        if self.n_features == 0 || self.leaves.len() != n || !self.base.is_finite() || self.depth > 64 {
            return Err("tree ensemble: inconsistent sizes".into());
        }
        if self.roots.iter().any(|&r| r as usize >= n) {
            return Err("tree ensemble: a root is out of range".into());
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let leaf = node.value == f64::MAX && node.left as usize == i;
            if node.feature as usize >= self.n_features || node.left as usize >= n || (!leaf && node.left as usize + 1 >= n) {
                return Err(format!("tree ensemble: node {i} is out of range"));
            }
        }
        Ok(())
    }

    /// Number of features the model expects.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Predicts one row. A row of the wrong length is an error.
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] when `row` does not have [`Gbt::n_features`] values.
    pub fn predict(&self, row: &[f64]) -> Result<f64, LearnError> {
        if row.len() != self.n_features || row.iter().any(|v| !v.is_finite()) {
            return Err(LearnError::Mismatch(format!(
                "model expects {} finite features, got {:?}",
                self.n_features, row
            )));
        }
        // Walk LANES trees down in lockstep: their dependent node loads overlap. Leaves are added in tree order,
        // so the sum is the same as tree by tree.
        let mut p = self.base;
        for chunk in self.roots.chunks(LANES) {
            let mut at = [0u32; LANES];
            let at = &mut at[..chunk.len()];
            at.copy_from_slice(chunk);
            for _ in 0..self.depth {
                for a in at.iter_mut() {
                    let n = self.nodes[*a as usize];
                    *a = n.left + u32::from(row[n.feature as usize] > n.value);
                }
            }
            for a in at.iter() {
                p += self.leaves[*a as usize];
            }
        }
        Ok(p)
    }

    /// Predicts many rows at once, tree by tree (each tree is read once for all rows: much faster than row by
    /// row when the ensemble does not fit in cache).
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] when a row does not have [`Gbt::n_features`] values.
    pub fn predict_many(&self, rows: &[&[f64]]) -> Result<Vec<f64>, LearnError> {
        if let Some(r) = rows.iter().find(|r| r.len() != self.n_features || r.iter().any(|v| !v.is_finite())) {
            return Err(LearnError::Mismatch(format!("model expects {} finite features, got {r:?}", self.n_features)));
        }
        if rows.len() < LANES {
            // Too few rows to fill the lanes: walk the trees in lockstep instead.
            return rows.iter().map(|r| self.predict(r)).collect();
        }
        let mut out = vec![self.base; rows.len()];
        // Walk LANES rows down each tree in lockstep.
        for &root in &self.roots {
            for (chunk, outs) in rows.chunks(LANES).zip(out.chunks_mut(LANES)) {
                let mut at = [root; LANES];
                for _ in 0..self.depth {
                    for (a, r) in at.iter_mut().zip(chunk) {
                        let n = self.nodes[*a as usize];
                        *a = n.left + u32::from(r[n.feature as usize] > n.value);
                    }
                }
                for (o, a) in outs.iter_mut().zip(at) {
                    *o += self.leaves[a as usize];
                }
            }
        }
        Ok(out)
    }
}

fn eval_binned(tree: &[Node], bins: &[Vec<u8>], i: usize) -> f64 {
    let mut k = 0;
    loop {
        match tree[k] {
            Node::Leaf(v) => return v,
            // Same decision as on raw values: bin b <= split bin  <=>  value <= edges[split bin].
            Node::Split { feature, bin, left, right, .. } => k = if usize::from(bins[feature][i]) <= bin { left } else { right },
        }
    }
}

/// Grows the subtree for `rows` and returns its index in `tree`.
fn build(tree: &mut Vec<Node>, rows: &[u32], depth: usize, grad: &[f64], bins: &[Vec<u8>], edges: &[Vec<f64>], cfg: &GbtConfig) -> usize {
    let g_sum: f64 = rows.iter().map(|&i| grad[i as usize]).sum();
    let n = rows.len() as f64;
    let leaf = Node::Leaf(cfg.learning_rate * g_sum / (n + cfg.lambda));
    let idx = tree.len();
    tree.push(leaf);
    if depth >= cfg.max_depth || rows.len() < 2 * cfg.min_leaf {
        return idx;
    }
    let parent = g_sum * g_sum / (n + cfg.lambda);
    let mut best: Option<(f64, usize, usize)> = None; // (gain, feature, split bin)
    let mut hist_g = [0.0f64; 256];
    let mut hist_n = [0u32; 256];
    for (f, col) in bins.iter().enumerate() {
        let nb = edges[f].len() + 1;
        hist_g[..nb].fill(0.0);
        hist_n[..nb].fill(0);
        for &i in rows {
            let b = usize::from(col[i as usize]);
            hist_g[b] += grad[i as usize];
            hist_n[b] += 1;
        }
        let (mut gl, mut nl) = (0.0, 0u32);
        for b in 0..nb.saturating_sub(1) {
            gl += hist_g[b];
            nl += hist_n[b];
            let nr = rows.len() as u32 - nl;
            if (nl as usize) < cfg.min_leaf || (nr as usize) < cfg.min_leaf {
                continue;
            }
            let gr = g_sum - gl;
            let gain = gl * gl / (f64::from(nl) + cfg.lambda) + gr * gr / (f64::from(nr) + cfg.lambda) - parent;
            if gain > 1e-12 && best.is_none_or(|(g, _, _)| gain > g) {
                best = Some((gain, f, b));
            }
        }
    }
    let Some((_, feature, split_bin)) = best else { return idx };
    let (l_rows, r_rows): (Vec<u32>, Vec<u32>) = rows.iter().partition(|&&i| usize::from(bins[feature][i as usize]) <= split_bin);
    let left = build(tree, &l_rows, depth + 1, grad, bins, edges, cfg);
    let right = build(tree, &r_rows, depth + 1, grad, bins, edges, cfg);
    tree[idx] = Node::Split {
        feature,
        threshold: edges[feature][split_bin],
        bin: split_bin,
        left,
        right,
    };
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_step_and_a_slope() {
        let x: Vec<Vec<f64>> = (0..400).map(|i| vec![f64::from(i) / 400.0, f64::from(i % 7)]).collect();
        let y: Vec<f64> = x.iter().map(|r| if r[0] < 0.5 { 10.0 } else { 20.0 + 4.0 * r[0] }).collect();
        let cfg = GbtConfig {
            n_trees: 150,
            learning_rate: 0.2,
            min_leaf: 5,
            subsample: 1.0,
            ..GbtConfig::default()
        };
        let m = Gbt::fit(&x, &y, &cfg).unwrap();
        let sq: f64 = x.iter().zip(&y).map(|(r, t)| (m.predict(r).unwrap() - t).powi(2)).sum();
        let rmse = (sq / x.len() as f64).sqrt();
        assert!(rmse < 0.5, "rmse {rmse}");
        assert!(m.predict(&[0.1]).is_err());
        assert!(m.predict(&[f64::INFINITY, 1.0]).is_err());
        assert!(m.predict_many(&[&[0.5, 1.0], &[f64::NAN, 1.0]]).is_err());
        // Batched and single-row evaluation agree.
        let rows: Vec<&[f64]> = x.iter().map(Vec::as_slice).collect();
        let many = m.predict_many(&rows).unwrap();
        assert!(many.iter().zip(&x).all(|(p, r)| *p == m.predict(r).unwrap()));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(Gbt::fit(&[], &[], &GbtConfig::default()).is_err());
        assert!(Gbt::fit(&[vec![1.0], vec![1.0, 2.0]], &[1.0, 2.0], &GbtConfig::default()).is_err());
        assert!(Gbt::fit(&[vec![f64::NAN]], &[1.0], &GbtConfig::default()).is_err());
        assert!(Gbt::fit(&[Vec::new()], &[1.0], &GbtConfig::default()).is_err());
        assert!(
            Gbt::fit(
                &[vec![1.0]],
                &[1.0],
                &GbtConfig {
                    max_depth: 0,
                    ..GbtConfig::default()
                }
            )
            .is_err()
        );
    }
}
