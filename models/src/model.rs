//! A trained recommender as plain weights: what the registry stores, what `serve` loads and
//! scores with. Training happens in Burn ([`crate::train`]); serving needs no autodiff graph, so
//! it scores with these arrays directly (the same arithmetic, checked against Burn's forward pass
//! in `train`'s tests), and answers top-N over a large catalog in two stages: the GMF part of the
//! score — a dot product — picks candidates from every item, the full NeuMF score ranks them.

use crate::Error;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Which model: NeuMF (GMF and MLP towers under one output layer, He et al. 2017) or plain matrix
/// factorization (the dot product of a user's and an item's factors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Neumf,
    Mf,
}

impl std::str::FromStr for Architecture {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "neumf" => Ok(Architecture::Neumf),
            "mf" => Ok(Architecture::Mf),
            other => Err(format!("unknown model '{other}': use neumf or mf")),
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Architecture::Neumf => "neumf",
            Architecture::Mf => "mf",
        })
    }
}

/// A fully connected layer: `weight` is `inputs × outputs`, row-major (Burn's layout).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    pub inputs: usize,
    pub outputs: usize,
    #[serde(skip)]
    pub weight: Vec<f32>,
    #[serde(skip)]
    pub bias: Vec<f32>,
}

/// Embedding tables, each `count × dim`, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Embeddings {
    pub user_gmf: Vec<f32>,
    pub item_gmf: Vec<f32>,
    /// Empty for MF.
    pub user_mlp: Vec<f32>,
    pub item_mlp: Vec<f32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Header {
    architecture: Architecture,
    gmf_dim: usize,
    mlp_dim: usize,
    users: Vec<String>,
    items: Vec<String>,
    layers: Vec<Dense>,
    output: Option<Dense>,
}

#[derive(Clone, Debug)]
pub struct Model {
    header: Header,
    embeddings: Embeddings,
    user_index: HashMap<String, u32>,
    item_index: HashMap<String, u32>,
    /// NeuMF: each item's share of the first MLP layer (its half of the weights times its MLP
    /// embedding, plus the bias), computed once so a score costs the user's half only.
    item_first_layer: Vec<f32>,
    /// Each item's GMF factors in 12-bit integers (held in i16) with a per-item scale: the scan
    /// over every item runs on integer multiply-adds, 3× faster than f32 here (the exact score
    /// then ranks the candidates).
    item_gmf_q: Vec<i16>,
    item_gmf_scale: Vec<f32>,
}

const MAGIC: &[u8; 8] = b"NEUMF\x00\x01\x00";

impl Model {
    pub fn new(
        architecture: Architecture,
        users: Vec<String>,
        items: Vec<String>,
        gmf_dim: usize,
        mlp_dim: usize,
        embeddings: Embeddings,
        layers: Vec<Dense>,
        output: Option<Dense>,
    ) -> Self {
        let header = Header {
            architecture,
            gmf_dim,
            mlp_dim,
            users,
            items,
            layers,
            output,
        };
        Self::assemble(header, embeddings)
    }

    fn assemble(header: Header, embeddings: Embeddings) -> Self {
        let index = |ids: &[String]| {
            ids.iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i as u32))
                .collect::<HashMap<_, _>>()
        };
        let user_index = index(&header.users);
        let item_index = index(&header.items);
        let mut model = Model {
            header,
            embeddings,
            user_index,
            item_index,
            item_first_layer: Vec::new(),
            item_gmf_q: Vec::new(),
            item_gmf_scale: Vec::new(),
        };
        model.item_first_layer = model.precompute_item_first_layer();
        (model.item_gmf_q, model.item_gmf_scale) =
            quantize(&model.embeddings.item_gmf, model.header.gmf_dim);
        model
    }

    fn precompute_item_first_layer(&self) -> Vec<f32> {
        let Some(first) = self.header.layers.first() else {
            return Vec::new();
        };
        let d = self.header.mlp_dim;
        let mut out = Vec::with_capacity(self.item_count() * first.outputs);
        for item in 0..self.item_count() {
            let q = &self.embeddings.item_mlp[item * d..(item + 1) * d];
            let mut h = first.bias.clone();
            for (k, qk) in q.iter().enumerate() {
                let row = &first.weight[(d + k) * first.outputs..(d + k + 1) * first.outputs];
                for (hj, wj) in h.iter_mut().zip(row) {
                    *hj += qk * wj;
                }
            }
            out.extend(h);
        }
        out
    }

    pub fn architecture(&self) -> Architecture {
        self.header.architecture
    }

    pub fn users(&self) -> &[String] {
        &self.header.users
    }

    pub fn items(&self) -> &[String] {
        &self.header.items
    }

    pub fn user_count(&self) -> usize {
        self.header.users.len()
    }

    pub fn item_count(&self) -> usize {
        self.header.items.len()
    }

    pub fn user(&self, id: &str) -> Option<u32> {
        self.user_index.get(id).copied()
    }

    pub fn item(&self, id: &str) -> Option<u32> {
        self.item_index.get(id).copied()
    }

    fn row(table: &[f32], dim: usize, index: u32) -> &[f32] {
        &table[index as usize * dim..(index as usize + 1) * dim]
    }

    /// The user's GMF factors as the retrieval query: for NeuMF weighted by the output layer's
    /// GMF half, so that `query · item_gmf` is exactly the GMF part of the score.
    fn retrieval_query(&self, user: u32) -> Vec<f32> {
        let d = self.header.gmf_dim;
        let p = Self::row(&self.embeddings.user_gmf, d, user);
        match &self.header.output {
            Some(out) => p.iter().zip(&out.weight[..d]).map(|(a, b)| a * b).collect(),
            None => p.to_vec(),
        }
    }

    /// The MLP tower's first layer, the user's half (without the bias, which the item half has).
    fn user_first_layer(&self, user: u32) -> Vec<f32> {
        let Some(first) = self.header.layers.first() else {
            return Vec::new();
        };
        let d = self.header.mlp_dim;
        let p = Self::row(&self.embeddings.user_mlp, d, user);
        let mut h = vec![0.0; first.outputs];
        for (k, pk) in p.iter().enumerate() {
            let row = &first.weight[k * first.outputs..(k + 1) * first.outputs];
            for (hj, wj) in h.iter_mut().zip(row) {
                *hj += pk * wj;
            }
        }
        h
    }

    /// The model's score (a logit) of each item for `user`.
    pub fn score(&self, user: u32, items: &[u32], scores: &mut [f32]) {
        let query = self.retrieval_query(user);
        let user_half = self.user_first_layer(user);
        let mut buffers = (Vec::new(), Vec::new());
        for (item, score) in items.iter().zip(scores.iter_mut()) {
            *score = self.score_one(&query, &user_half, *item, &mut buffers);
        }
    }

    fn score_one(
        &self,
        query: &[f32],
        user_half: &[f32],
        item: u32,
        (a, b): &mut (Vec<f32>, Vec<f32>),
    ) -> f32 {
        let gmf = dot(
            query,
            Self::row(&self.embeddings.item_gmf, self.header.gmf_dim, item),
        );
        let Some(out) = &self.header.output else {
            return gmf;
        };
        let first = &self.header.layers[0];
        let item_half = Self::row(&self.item_first_layer, first.outputs, item);
        a.clear();
        a.extend(
            user_half
                .iter()
                .zip(item_half)
                .map(|(u, i)| (u + i).max(0.0)),
        );
        for layer in &self.header.layers[1..] {
            b.clear();
            b.extend_from_slice(&layer.bias);
            for (k, ak) in a.iter().enumerate() {
                if *ak != 0.0 {
                    let row = &layer.weight[k * layer.outputs..(k + 1) * layer.outputs];
                    for (bj, wj) in b.iter_mut().zip(row) {
                        *bj += ak * wj;
                    }
                }
            }
            b.iter_mut().for_each(|x| *x = x.max(0.0));
            std::mem::swap(a, b);
        }
        gmf + dot(&out.weight[self.header.gmf_dim..], a) + out.bias[0]
    }

    /// The `n` best items for `user` among those `allowed` admits, best first, with scores.
    /// Candidates come from the GMF dot product, in 12-bit integers, over every item (`candidates` of
    /// them, at least `n`); the exact score (NeuMF's full score, MF's f32 dot) orders them.
    pub fn top_n(
        &self,
        user: u32,
        n: usize,
        candidates: usize,
        allowed: impl Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        let query = self.retrieval_query(user);
        let d = self.header.gmf_dim;
        // Stage one: the GMF dot product in integers over every item keeps the best candidates.
        // (The query's own scale is the same for every item: ranking does not need it.)
        let (query_q, _) = quantize(&query, d);
        let mut best = TopK::new(candidates.max(n));
        for (item, (factors, scale)) in self
            .item_gmf_q
            .chunks_exact(d)
            .zip(&self.item_gmf_scale)
            .enumerate()
        {
            let score = dot_q(&query_q, factors) as f32 * scale;
            if best.admits(score) && allowed(item as u32) {
                best.push(item as u32, score);
            }
        }
        // Stage two: the exact score (NeuMF: both towers) orders them.
        let mut ranked = best.into_sorted();
        let user_half = self.user_first_layer(user);
        let mut buffers = (Vec::new(), Vec::new());
        for (item, score) in ranked.iter_mut() {
            *score = self.score_one(&query, &user_half, *item, &mut buffers);
        }
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(n);
        ranked
    }

    /// Items whose GMF factors point the same way as `item`'s (cosine), most similar first.
    pub fn similar_items(
        &self,
        item: u32,
        n: usize,
        allowed: impl Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        let d = self.header.gmf_dim;
        let target = Self::row(&self.embeddings.item_gmf, d, item);
        let norm = dot(target, target).sqrt().max(f32::EPSILON);
        let mut best = TopK::new(n);
        for (other, factors) in self.embeddings.item_gmf.chunks_exact(d).enumerate() {
            if other as u32 == item {
                continue;
            }
            let cosine =
                dot(target, factors) / (norm * dot(factors, factors).sqrt().max(f32::EPSILON));
            if best.admits(cosine) && allowed(other as u32) {
                best.push(other as u32, cosine);
            }
        }
        best.into_sorted()
    }

    /// The artifact: a magic number, a JSON header (architecture, ids, layer shapes) and the
    /// weights as little-endian f32.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("the header always serializes");
        let mut out = Vec::with_capacity(header.len() + 16 + 4 * self.parameter_count());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        for array in self.arrays() {
            out.extend_from_slice(&(array.len() as u64).to_le_bytes());
            for x in array {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let bad = |why: &str| Error::Artifact(why.to_string());
        let mut cursor = Cursor(bytes);
        if cursor.take(MAGIC.len()).ok_or_else(|| bad("too short"))? != MAGIC {
            return Err(bad("not a model artifact of this version"));
        }
        let header_len = cursor.u64().ok_or_else(|| bad("truncated header"))? as usize;
        let header: Header = serde_json::from_slice(
            cursor
                .take(header_len)
                .ok_or_else(|| bad("truncated header"))?,
        )
        .map_err(|e| Error::Artifact(format!("header: {e}")))?;
        let mut next = || -> Result<Vec<f32>, Error> {
            let len = cursor.u64().ok_or_else(|| bad("truncated weights"))? as usize;
            let raw = cursor
                .take(len.checked_mul(4).ok_or_else(|| bad("bad length"))?)
                .ok_or_else(|| bad("truncated weights"))?;
            Ok(raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        };
        let embeddings = Embeddings {
            user_gmf: next()?,
            item_gmf: next()?,
            user_mlp: next()?,
            item_mlp: next()?,
        };
        let mut header = header;
        for layer in header.layers.iter_mut().chain(header.output.as_mut()) {
            layer.weight = next()?;
            layer.bias = next()?;
            if layer.weight.len() != layer.inputs * layer.outputs
                || layer.bias.len() != layer.outputs
            {
                return Err(bad("a layer's weights do not match its shape"));
            }
        }
        let (u, i) = (header.users.len(), header.items.len());
        let shapes_agree = embeddings.user_gmf.len() == u * header.gmf_dim
            && embeddings.item_gmf.len() == i * header.gmf_dim
            && embeddings.user_mlp.len() == u * header.mlp_dim
            && embeddings.item_mlp.len() == i * header.mlp_dim;
        if !shapes_agree {
            return Err(bad("the embeddings do not match the ids"));
        }
        Ok(Self::assemble(header, embeddings))
    }

    fn arrays(&self) -> Vec<&[f32]> {
        let e = &self.embeddings;
        let mut arrays: Vec<&[f32]> = vec![&e.user_gmf, &e.item_gmf, &e.user_mlp, &e.item_mlp];
        for layer in self.header.layers.iter().chain(self.header.output.as_ref()) {
            arrays.push(&layer.weight);
            arrays.push(&layer.bias);
        }
        arrays
    }

    pub fn parameter_count(&self) -> usize {
        self.arrays().iter().map(|a| a.len()).sum()
    }
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("eight bytes")))
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight lanes of partial sums: the compiler vectorizes this; a single running sum it cannot.
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let (x, y): (&[f32; 8], &[f32; 8]) = (x.try_into().expect("8"), y.try_into().expect("8"));
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

/// Quantized values span ±4095: 32 products of two sum to at most 2^29 in an i32.
const Q_MAX: f32 = 4095.0;

/// Rows of `dim` floats as 12-bit integers with one scale per row (`row ≈ scale × ints`).
fn quantize(rows: &[f32], dim: usize) -> (Vec<i16>, Vec<f32>) {
    let mut out = Vec::with_capacity(rows.len());
    let mut scales = Vec::with_capacity(rows.len() / dim.max(1));
    for row in rows.chunks_exact(dim.max(1)) {
        let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
        let scale = if max > 0.0 { max / Q_MAX } else { 1.0 };
        out.extend(
            row.iter()
                .map(|x| (x / scale).round().clamp(-Q_MAX, Q_MAX) as i16),
        );
        scales.push(scale);
    }
    (out, scales)
}

/// An integer dot product; pairs of products are added before the 32-bit sum, the shape the
/// compiler turns into SSE2's multiply-add (`pmaddwd`).
fn dot_q(a: &[i16], b: &[i16]) -> i32 {
    let mut lanes = [0i32; 8];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let (x, y): (&[i16; 16], &[i16; 16]) =
            (x.try_into().expect("16"), y.try_into().expect("16"));
        for k in 0..8 {
            lanes[k] +=
                x[2 * k] as i32 * y[2 * k] as i32 + x[2 * k + 1] as i32 * y[2 * k + 1] as i32;
        }
    }
    let tail: i32 = ra.iter().zip(rb).map(|(x, y)| *x as i32 * *y as i32).sum();
    lanes.iter().sum::<i32>() + tail
}

/// The k highest scores seen (a min-heap by score; ties keep the lower item id).
struct TopK {
    k: usize,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<Scored>>,
}

#[derive(PartialEq)]
struct Scored(f32, u32);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK {
            k,
            heap: std::collections::BinaryHeap::with_capacity(k + 1),
        }
    }

    fn admits(&self, score: f32) -> bool {
        self.k > 0
            && (self.heap.len() < self.k || self.heap.peek().is_some_and(|min| score > min.0.0))
    }

    fn push(&mut self, item: u32, score: f32) {
        self.heap.push(std::cmp::Reverse(Scored(score, item)));
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }

    fn into_sorted(self) -> Vec<(u32, f32)> {
        let mut out: Vec<(u32, f32)> = self.heap.into_iter().map(|r| (r.0.1, r.0.0)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny(architecture: Architecture) -> Model {
        // Two users, four items, two factors; NeuMF with one 4→2 layer and an output of 2+2.
        let embeddings = Embeddings {
            user_gmf: vec![1.0, 0.0, 0.0, 1.0],
            item_gmf: vec![0.9, 0.1, 0.1, 0.9, 0.5, 0.5, -1.0, 0.0],
            user_mlp: if architecture == Architecture::Mf {
                vec![]
            } else {
                vec![1.0, 0.0, 0.0, 1.0]
            },
            item_mlp: if architecture == Architecture::Mf {
                vec![]
            } else {
                vec![0.0; 8]
            },
        };
        let (layers, output, mlp_dim) = match architecture {
            Architecture::Mf => (vec![], None, 0),
            Architecture::Neumf => (
                vec![Dense {
                    inputs: 4,
                    outputs: 2,
                    weight: vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
                    bias: vec![0.0, 0.0],
                }],
                Some(Dense {
                    inputs: 4,
                    outputs: 1,
                    weight: vec![1.0, 1.0, 0.5, -0.5],
                    bias: vec![0.25],
                }),
                2,
            ),
        };
        Model::new(
            architecture,
            vec!["a".into(), "b".into()],
            (0..4).map(|i| format!("p{i}")).collect(),
            2,
            mlp_dim,
            embeddings,
            layers,
            output,
        )
    }

    #[test]
    fn scores_by_hand_and_survive_the_artifact() {
        let mf = tiny(Architecture::Mf);
        let mut s = [0.0; 4];
        mf.score(0, &[0, 1, 2, 3], &mut s);
        assert_eq!(s, [0.9, 0.1, 0.5, -1.0]);
        // NeuMF for user a: GMF 0.9 etc.; MLP relu([1,0]) → [1,0]·[0.5,-0.5] = 0.5; bias 0.25.
        let neumf = tiny(Architecture::Neumf);
        neumf.score(0, &[0, 3], &mut s[..2]);
        assert_eq!(&s[..2], &[0.9 + 0.5 + 0.25, -1.0 + 0.5 + 0.25]);
        for model in [mf, neumf] {
            let back = Model::from_bytes(&model.to_bytes()).unwrap();
            assert_eq!(back.header, model.header);
            assert_eq!(back.embeddings, model.embeddings);
            assert!(Model::from_bytes(&model.to_bytes()[..40]).is_err());
        }
    }

    #[test]
    fn top_n_ranks_filters_and_finds_neighbours() {
        let model = tiny(Architecture::Neumf);
        let top = model.top_n(1, 2, 10, |_| true);
        assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), [1, 2]);
        let top = model.top_n(1, 2, 10, |item| item != 1);
        assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), [2, 0]);
        let similar = model.similar_items(0, 1, |_| true);
        assert_eq!(similar[0].0, 2);
    }
}
