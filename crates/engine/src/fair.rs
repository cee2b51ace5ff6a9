//! A bounded queue with per-key (namespace) fair shares: items are taken round-robin across keys, so one
//! namespace submitting a thousand images cannot starve another namespace's single image, and no key holds more
//! than its share of the bound.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

struct Item<T> {
    value: T,
    due: Instant,
}

/// Why an item was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// The queue holds its bound.
    Total,
    /// The key holds its share.
    Share,
}

/// The queue.
pub(crate) struct FairQueue<T> {
    queues: BTreeMap<String, VecDeque<Item<T>>>,
    /// Keys in the order they get their next turn.
    turns: VecDeque<String>,
    len: usize,
    max_total: usize,
    max_per_key: usize,
}

impl<T> FairQueue<T> {
    /// A queue of at most `max_total` items, at most `max_per_key` of them under one key.
    pub(crate) fn new(max_total: usize, max_per_key: usize) -> Self {
        Self {
            queues: BTreeMap::new(),
            turns: VecDeque::new(),
            len: 0,
            max_total: max_total.max(1),
            max_per_key: max_per_key.max(1),
        }
    }

    /// Items queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Queues `value` under `key`, to be taken no earlier than `due`.
    pub(crate) fn push(&mut self, key: &str, value: T, due: Instant) -> Result<(), (Full, T)> {
        if self.len >= self.max_total {
            return Err((Full::Total, value));
        }
        let q = self.queues.entry(key.to_string()).or_default();
        if q.len() >= self.max_per_key {
            return Err((Full::Share, value));
        }
        if q.is_empty() {
            self.turns.push_back(key.to_string());
        }
        q.push_back(Item { value, due });
        self.len += 1;
        Ok(())
    }

    /// Takes the next item that is due at `now` and that `ready` accepts, giving each key a turn in order; the key
    /// served goes to the back of the line.
    pub(crate) fn pop(&mut self, now: Instant, ready: impl Fn(&T) -> bool) -> Option<(String, T)> {
        for turn in 0..self.turns.len() {
            let key = &self.turns[turn];
            let Some(q) = self.queues.get_mut(key) else {
                continue;
            };
            let Some(pos) = q.iter().position(|i| i.due <= now && ready(&i.value)) else {
                continue;
            };
            let item = q.remove(pos).map(|i| i.value)?;
            self.len -= 1;
            let key = self.turns.remove(turn)?;
            if q.is_empty() {
                self.queues.remove(&key);
            } else {
                self.turns.push_back(key.clone());
            }
            return Some((key, item));
        }
        None
    }

    /// The earliest time an item not yet due becomes due.
    pub(crate) fn next_due(&self, now: Instant) -> Option<Instant> {
        self.queues
            .values()
            .flatten()
            .map(|i| i.due)
            .filter(|d| *d > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_thousand_images_of_one_namespace_do_not_starve_another() {
        let now = Instant::now();
        let mut q = FairQueue::new(2000, 1000);
        for n in 0..1000 {
            q.push("busy", n, now).unwrap();
        }
        assert_eq!(q.push("busy", 1000, now), Err((Full::Share, 1000)));
        q.push("quiet", 7, now).unwrap();
        let first_two: Vec<_> = (0..2).map(|_| q.pop(now, |_| true).unwrap()).collect();
        assert!(
            first_two.contains(&("quiet".to_string(), 7)),
            "the quiet namespace's image is taken among the first two: {first_two:?}"
        );
        assert_eq!(q.len(), 999);
        // Items not due (a retry later) and items `ready` refuses (their registry is busy) are skipped.
        let mut q = FairQueue::new(10, 10);
        q.push("a", 1, now + Duration::from_secs(60)).unwrap();
        q.push("a", 2, now).unwrap();
        q.push("b", 3, now).unwrap();
        assert_eq!(q.pop(now, |v| *v != 2), Some(("b".into(), 3)));
        assert_eq!(q.pop(now, |v| *v != 2), None);
        assert_eq!(q.next_due(now), Some(now + Duration::from_secs(60)));
        assert_eq!(q.pop(now, |_| true), Some(("a".into(), 2)));
        let mut full = FairQueue::new(1, 5);
        full.push("a", 1, now).unwrap();
        assert_eq!(full.push("b", 2, now), Err((Full::Total, 2)));
    }
}
