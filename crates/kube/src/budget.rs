//! A per-namespace budget for the side effects of a review (pull-secret reads, Events, ImageReports), so that
//! whoever can send reviews cannot make Portcullis hammer the API server on their behalf.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Most namespaces tracked at once; beyond it the oldest windows are forgotten.
const MAX_NAMESPACES: usize = 10_000;

/// Allows at most `per_window` side effects per namespace in each `window`.
#[derive(Debug)]
pub struct NamespaceBudget {
    per_window: u32,
    window: Duration,
    used: HashMap<String, (Instant, u32)>,
}

impl NamespaceBudget {
    /// A budget of `per_window` per `window` and namespace.
    pub fn new(per_window: u32, window: Duration) -> Self {
        NamespaceBudget {
            per_window,
            window,
            used: HashMap::new(),
        }
    }

    /// Takes one from `namespace`'s budget at `now`; false when it is spent for the current window.
    pub fn take(&mut self, namespace: &str, now: Instant) -> bool {
        if self.used.len() >= MAX_NAMESPACES && !self.used.contains_key(namespace) {
            let window = self.window;
            self.used
                .retain(|_, (start, _)| now.duration_since(*start) < window);
            if self.used.len() >= MAX_NAMESPACES {
                return false;
            }
        }
        let (start, n) = self.used.entry(namespace.to_string()).or_insert((now, 0));
        if now.duration_since(*start) >= self.window {
            *start = now;
            *n = 0;
        }
        if *n >= self.per_window {
            return false;
        }
        *n += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_namespace_has_its_own_window() {
        let mut b = NamespaceBudget::new(2, Duration::from_secs(60));
        let t = Instant::now();
        assert!(b.take("a", t) && b.take("a", t));
        assert!(!b.take("a", t), "spent");
        assert!(b.take("b", t), "another namespace is not affected");
        assert!(b.take("a", t + Duration::from_secs(61)), "a new window");
    }
}
