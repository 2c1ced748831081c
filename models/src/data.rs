//! Interactions as the recommender sees them: people and products numbered densely, one row per
//! (person, product) pair with its strongest action's weight and its latest time.

use std::collections::HashMap;

/// One (user, item) pair: the confidence of the strongest action and when it last happened.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interaction {
    pub user: u32,
    pub item: u32,
    pub weight: f32,
    /// Any monotonic clock (seconds or microseconds): only the order matters.
    pub at: i64,
}

/// A set of interactions with the external ids of its users and items.
#[derive(Clone, Debug, Default)]
pub struct Interactions {
    pub users: Vec<String>,
    pub items: Vec<String>,
    /// Sorted by user, then time (ties in a fixed pseudo-random order).
    pub rows: Vec<Interaction>,
}

impl Interactions {
    /// Builds the set from raw actions `(user, item, weight, at)`: repeated pairs keep the
    /// highest weight and the latest time. Ids are numbered in sorted order, so the same input
    /// in any order gives the same numbering.
    pub fn from_actions<I>(actions: I) -> Self
    where
        I: IntoIterator<Item = (String, String, f32, i64)>,
    {
        let mut pairs: HashMap<(String, String), (f32, i64)> = HashMap::new();
        for (user, item, weight, at) in actions {
            let entry = pairs.entry((user, item)).or_insert((weight, at));
            entry.0 = entry.0.max(weight);
            entry.1 = entry.1.max(at);
        }
        let mut users: Vec<String> = pairs.keys().map(|(u, _)| u.clone()).collect();
        let mut items: Vec<String> = pairs.keys().map(|(_, i)| i.clone()).collect();
        users.sort_unstable();
        users.dedup();
        items.sort_unstable();
        items.dedup();
        let user_index = index_of(&users);
        let item_index = index_of(&items);
        let mut rows: Vec<(Interaction, u64)> = pairs
            .into_iter()
            .map(|((user, item), (weight, at))| {
                let tie_break = stable_hash(&user, &item);
                let row = Interaction {
                    user: user_index[user.as_str()],
                    item: item_index[item.as_str()],
                    weight,
                    at,
                };
                (row, tie_break)
            })
            .collect();
        // Pairs at the same time (common: a batch of ratings entered in one second) are ordered
        // by a hash of their ids, not by id: ids often follow a catalog's age, so "the highest id
        // is latest" would hold out the newest, least popular items systematically.
        rows.sort_unstable_by_key(|(r, tie)| (r.user, r.at, *tie, r.item));
        let rows = rows.into_iter().map(|(r, _)| r).collect();
        Interactions { users, items, rows }
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    pub fn item_count(&self) -> usize {
        self.items.len()
    }

    /// Each user's rows, in time order (`rows` is sorted by user).
    pub fn by_user(&self) -> impl Iterator<Item = &[Interaction]> {
        self.rows.chunk_by(|a, b| a.user == b.user)
    }

    /// Leave-one-out (the NCF protocol): each user's latest interaction is held out when the user
    /// has at least two; the rest is for training.
    pub fn leave_one_out(&self) -> Split {
        let mut train = Vec::with_capacity(self.rows.len());
        let mut holdout = Vec::new();
        for rows in self.by_user() {
            let (last, earlier) = rows.split_last().expect("chunks are never empty");
            train.extend_from_slice(earlier);
            if earlier.is_empty() {
                train.push(*last);
            } else {
                holdout.push(*last);
            }
        }
        let seen = SeenItems::new(self.user_count(), &self.rows);
        let trained = SeenItems::new(self.user_count(), &train);
        Split {
            users: self.user_count(),
            items: self.item_count(),
            train,
            holdout,
            seen,
            trained,
        }
    }
}

/// FNV-1a over the user's and the item's ids: the same on every machine and every run.
fn stable_hash(user: &str, item: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in user.bytes().chain([0xff]).chain(item.bytes()) {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn index_of(ids: &[String]) -> HashMap<&str, u32> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i as u32))
        .collect()
}

/// Training rows and the held-out row of each user.
#[derive(Clone, Debug)]
pub struct Split {
    pub users: usize,
    pub items: usize,
    pub train: Vec<Interaction>,
    pub holdout: Vec<Interaction>,
    /// Every item each user interacted with (training and held out): never an evaluation
    /// negative.
    pub seen: SeenItems,
    /// The items each user trained on: never a training negative. (The held-out item may be
    /// sampled as one, as in the NCF code: excluding it would tell the model something about it.)
    pub trained: SeenItems,
}

/// The items each user has interacted with, as sorted lists (binary search for membership).
#[derive(Clone, Debug, Default)]
pub struct SeenItems {
    offsets: Vec<usize>,
    items: Vec<u32>,
}

impl SeenItems {
    pub fn new(users: usize, rows: &[Interaction]) -> Self {
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); users];
        for r in rows {
            lists[r.user as usize].push(r.item);
        }
        let mut offsets = Vec::with_capacity(users + 1);
        let mut items = Vec::with_capacity(rows.len());
        offsets.push(0);
        for mut list in lists {
            list.sort_unstable();
            list.dedup();
            items.extend(list);
            offsets.push(items.len());
        }
        SeenItems { offsets, items }
    }

    pub fn of(&self, user: u32) -> &[u32] {
        let u = user as usize;
        match (self.offsets.get(u), self.offsets.get(u + 1)) {
            (Some(&a), Some(&b)) => &self.items[a..b],
            _ => &[],
        }
    }

    pub fn contains(&self, user: u32, item: u32) -> bool {
        self.of(user).binary_search(&item).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(u: &str, i: &str, w: f32, at: i64) -> (String, String, f32, i64) {
        (u.into(), i.into(), w, at)
    }

    #[test]
    fn repeated_pairs_keep_the_strongest_weight_and_latest_time() {
        let set = Interactions::from_actions([
            action("b", "x", 0.1, 5),
            action("a", "y", 0.1, 1),
            action("a", "y", 1.0, 3),
            action("a", "y", 0.5, 9),
        ]);
        assert_eq!(set.users, ["a", "b"]);
        assert_eq!(set.items, ["x", "y"]);
        assert_eq!(
            set.rows,
            [
                Interaction {
                    user: 0,
                    item: 1,
                    weight: 1.0,
                    at: 9
                },
                Interaction {
                    user: 1,
                    item: 0,
                    weight: 0.1,
                    at: 5
                },
            ]
        );
    }

    #[test]
    fn leave_one_out_holds_out_each_users_latest_pair() {
        let set = Interactions::from_actions([
            action("a", "x", 1.0, 1),
            action("a", "y", 1.0, 7),
            action("a", "z", 1.0, 4),
            action("b", "x", 1.0, 2),
        ]);
        let split = set.leave_one_out();
        // a's latest is y; b has one pair only, which stays in training.
        assert_eq!(split.holdout.len(), 1);
        assert_eq!(set.items[split.holdout[0].item as usize], "y");
        assert_eq!(split.train.len(), 3);
        assert!(
            split.seen.contains(0, 1) && split.seen.contains(1, 0) && !split.seen.contains(1, 1)
        );
    }
}
