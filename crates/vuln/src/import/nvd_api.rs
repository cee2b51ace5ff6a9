//! The NVD CVE API 2.0 as an import source (`https://services.nvd.nist.gov/rest/json/cves/2.0`): pages of up to
//! 2,000 CVEs fetched with `startIndex`, each handed to the NVD importer ([`super::nvd`]).
//!
//! * Incremental: given the time of the last pull, only CVEs modified since then are asked for
//!   (`lastModStartDate`/`lastModEndDate`, in windows of at most 120 days, the API's limit); without one, every
//!   CVE.
//! * `NVD_API_KEY` (environment) is sent as the `apiKey` header.
//! * Rate limit: at most 5 requests in any 30 s without a key, 50 with one (NVD's published limits); a 403/429/503
//!   answer (NVD's "slow down") is retried twice after a pause.
//! * Bounds: one page at most [`MAX_PAGE`] bytes, at most [`MAX_PAGES`] pages per pull, 120 s per request.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Collector;
use crate::Error;

/// Largest page accepted (2,000 CVEs are 10–20 MB).
const MAX_PAGE: u64 = 64 << 20;

/// Most pages one pull reads (the whole NVD is about 150 pages of 2,000).
const MAX_PAGES: usize = 1_000;

/// Results asked for per page (the API's maximum).
const PER_PAGE: usize = 2_000;

/// The longest `lastModStartDate`..`lastModEndDate` range the API accepts.
const MAX_WINDOW_DAYS: i64 = 120;

/// Whether `source` is the NVD CVE API 2.0 endpoint (an http(s) URL whose path ends in `/rest/json/cves/2.0`).
pub(crate) fn is_api(source: &str) -> bool {
    (source.starts_with("https://") || source.starts_with("http://"))
        && !source.contains('?')
        && source
            .trim_end_matches('/')
            .ends_with("/rest/json/cves/2.0")
}

/// At most `max` requests in any `window`.
pub(super) struct RateLimit {
    window: Duration,
    max: usize,
    sent: VecDeque<Instant>,
}

impl RateLimit {
    /// NVD's limits: 5 requests per 30 s, 50 with an API key.
    pub(super) fn nvd(with_key: bool) -> Self {
        RateLimit {
            window: Duration::from_secs(30),
            max: if with_key { 50 } else { 5 },
            sent: VecDeque::new(),
        }
    }

    /// How long to wait at `now` before the next request may be sent.
    pub(super) fn wait(&mut self, now: Instant) -> Duration {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.sent.pop_front();
        }
        if self.sent.len() < self.max {
            return Duration::ZERO;
        }
        self.sent.front().map_or(Duration::ZERO, |t| {
            (*t + self.window).saturating_duration_since(now)
        })
    }

    /// Records a request sent at `at`.
    pub(super) fn sent(&mut self, at: Instant) {
        self.sent.push_back(at);
    }
}

/// NVD's date format in query strings (`2024-08-01T00:00:00.000%2B00:00`: `+` must be escaped).
fn nvd_date(t: DateTime<Utc>) -> String {
    format!("{}%2B00:00", t.format("%Y-%m-%dT%H:%M:%S%.3f"))
}

/// The `lastMod…` windows from `since` to `until`, each at most 120 days; one unbounded window without `since`.
fn windows(
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
) -> Vec<Option<(DateTime<Utc>, DateTime<Utc>)>> {
    let Some(mut start) = since else {
        return vec![None];
    };
    let step = chrono::Duration::days(MAX_WINDOW_DAYS);
    let mut out = Vec::new();
    while start < until {
        let end = (start + step).min(until);
        out.push(Some((start, end)));
        start = end;
    }
    if out.is_empty() {
        out.push(Some((until, until)));
    }
    out
}

/// Pulls every CVE modified since `since` (all when `None`) from the API at `base` into `c`.
pub(super) fn pull(
    c: &mut Collector,
    base: &str,
    since: Option<DateTime<Utc>>,
) -> Result<(), Error> {
    let key = std::env::var("NVD_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty());
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Fetch {
            url: base.to_string(),
            reason: e.to_string(),
        })?;
    let mut limit = RateLimit::nvd(key.is_some());
    let base = base.trim_end_matches('/');
    let mut pages = 0usize;
    for window in windows(since, Utc::now()) {
        let range = window
            .map(|(s, e)| {
                format!(
                    "&lastModStartDate={}&lastModEndDate={}",
                    nvd_date(s),
                    nvd_date(e)
                )
            })
            .unwrap_or_default();
        let mut start = 0usize;
        loop {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(Error::Fetch {
                    url: base.to_string(),
                    reason: format!(
                        "more than {MAX_PAGES} pages in one pull; import a bulk NVD copy first, then update"
                    ),
                });
            }
            let url = format!("{base}?resultsPerPage={PER_PAGE}&startIndex={start}{range}");
            let bytes = get(&client, &url, key.as_deref(), &mut limit)?;
            let page: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Fetch {
                url: url.clone(),
                reason: format!("not an NVD API page: invalid JSON: {e}"),
            })?;
            let (Some(total), Some(items)) = (
                page["totalResults"].as_u64(),
                page["vulnerabilities"].as_array(),
            ) else {
                return Err(Error::Fetch {
                    url,
                    reason: "not an NVD API page: no totalResults / vulnerabilities".into(),
                });
            };
            let n = items.len();
            c.file(&format!("nvd-api!startIndex={start}{range}.json"), &bytes);
            start += n;
            if n == 0 || start as u64 >= total {
                break;
            }
        }
    }
    Ok(())
}

/// One GET within the rate limit, bounded; NVD's "slow down" answers (403, 429, 503) are retried twice.
fn get(
    client: &reqwest::blocking::Client,
    url: &str,
    key: Option<&str>,
    limit: &mut RateLimit,
) -> Result<Vec<u8>, Error> {
    let fail = |reason: String| Error::Fetch {
        url: url.to_string(),
        reason,
    };
    let mut attempt = 0;
    loop {
        std::thread::sleep(limit.wait(Instant::now()));
        limit.sent(Instant::now());
        let mut req = client.get(url);
        if let Some(k) = key {
            req = req.header("apiKey", k);
        }
        let resp = req.send().map_err(|e| fail(e.to_string()))?;
        let status = resp.status().as_u16();
        if matches!(status, 403 | 429 | 503) && attempt < 2 {
            attempt += 1;
            std::thread::sleep(Duration::from_secs(10 * attempt));
            continue;
        }
        if !resp.status().is_success() {
            let hint = if matches!(status, 403 | 429) && key.is_none() {
                " (NVD's rate limit: set NVD_API_KEY for 50 requests per 30 s)"
            } else {
                ""
            };
            return Err(fail(format!("HTTP status {status}{hint}")));
        }
        if resp.content_length().is_some_and(|n| n > MAX_PAGE) {
            return Err(fail(format!("page larger than {} MiB", MAX_PAGE >> 20)));
        }
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(resp, MAX_PAGE + 1), &mut buf)
            .map_err(|e| fail(format!("reading body: {e}")))?;
        if buf.len() as u64 > MAX_PAGE {
            return Err(fail(format!("page larger than {} MiB", MAX_PAGE >> 20)));
        }
        return Ok(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_requests_per_30_s_without_a_key() {
        let t0 = Instant::now();
        let mut l = RateLimit::nvd(false);
        for i in 0..5 {
            let at = t0 + Duration::from_secs(i);
            assert_eq!(l.wait(at), Duration::ZERO);
            l.sent(at);
        }
        // the 6th at t0+5 s waits until the first leaves the window (t0+30 s)
        assert_eq!(l.wait(t0 + Duration::from_secs(5)), Duration::from_secs(25));
        assert_eq!(l.wait(t0 + Duration::from_secs(30)), Duration::ZERO);
        let mut k = RateLimit::nvd(true);
        for _ in 0..50 {
            assert_eq!(k.wait(t0), Duration::ZERO);
            k.sent(t0);
        }
        assert_eq!(k.wait(t0), Duration::from_secs(30));
    }

    #[test]
    fn windows_of_at_most_120_days() {
        let until: DateTime<Utc> = "2024-12-31T00:00:00Z".parse().unwrap();
        assert_eq!(windows(None, until), vec![None]);
        let since: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        let w = windows(Some(since), until);
        assert_eq!(w.len(), 4);
        assert!(
            w.iter()
                .flatten()
                .all(|(s, e)| *e - *s <= chrono::Duration::days(120))
        );
        assert_eq!(w.last().unwrap().unwrap().1, until);
        assert_eq!(
            nvd_date(since),
            "2024-01-01T00:00:00.000%2B00:00",
            "NVD's format, `+` escaped"
        );
        assert!(is_api("https://services.nvd.nist.gov/rest/json/cves/2.0"));
        assert!(!is_api(
            "https://services.nvd.nist.gov/rest/json/cves/2.0?cveId=CVE-1"
        ));
    }
}
