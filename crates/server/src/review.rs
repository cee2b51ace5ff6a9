//! The webhook review handler: parses an AdmissionReview, decides it within the API server's deadline
//! (digest resolution, owner verification), records metrics and the audit trail, and answers.

use super::*;

#[derive(Deserialize)]
pub(crate) struct WebhookQuery {
    pub(crate) timeout: Option<String>,
}

fn bad_request(msg: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg,
    )
        .into_response()
}

/// Answers one AdmissionReview on `endpoint` (`/validate` or `/mutate`).
pub(crate) async fn review(
    state: Arc<AppState>,
    endpoint: Endpoint,
    caller: Caller,
    timeout: Option<String>,
    body: Bytes,
) -> Response {
    let start = Instant::now();
    if state.cfg.client_ca.is_some() && !caller.authenticated {
        state.metrics.observe(
            metrics::DecisionLabels {
                endpoint: endpoint.as_str(),
                mode: "none",
                result: "unauthenticated",
            },
            start.elapsed(),
        );
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "a client certificate signed by the configured client CA is required for the webhook endpoints \
             (configure the API server's AdmissionConfiguration kubeconfig with one)\n",
        )
            .into_response();
    }
    let review = match Review::parse(&body) {
        Ok(r) => r,
        Err(e) => {
            state.metrics.observe(
                metrics::DecisionLabels {
                    endpoint: endpoint.as_str(),
                    mode: "none",
                    result: "bad_request",
                },
                start.elapsed(),
            );
            return bad_request(format!("{e}\n"));
        }
    };
    let cfg = state
        .admission
        .read()
        .map(|c| c.clone())
        .unwrap_or_else(|p| p.into_inner().clone());
    let webhook_timeout = timeout
        .as_deref()
        .and_then(parse_go_duration)
        .unwrap_or(state.cfg.default_timeout);
    let deadline = webhook_timeout
        .saturating_sub(state.cfg.deadline_margin)
        .max(webhook_timeout / 2)
        .min(state.cfg.resolve_budget);
    let ns_meta = state
        .namespaces
        .as_ref()
        .and_then(|n| n.namespace(review.namespace()));

    // The controller owner the object claims, fetched through the API server within the deadline: only a
    // verified owner earns `skipOwned`.
    let verified_owner = if cfg.skip_owned && !cfg.is_exempt(review.namespace()) {
        verify_owner_within(&state, &review, deadline.saturating_sub(start.elapsed())).await
    } else {
        None
    };

    // Tags the verdict source has no digest for: ask the registry, within the deadline. `plan` applies the
    // same skip rules as `decide`, so images the decision will not look at are never resolved.
    let mut resolved: HashMap<String, String> = HashMap::new();
    // Tags the registry answered 404 for: said to be missing, not queued.
    let mut missing: HashSet<String> = HashSet::new();
    // Tags decided on a digest known from memory whose registry lookup is older than the TTL: re-resolved in
    // the background, and the decision says so.
    let mut stale: Vec<(String, String)> = Vec::new();
    if state.cfg.resolve_tags {
        let mut lookups = Vec::new();
        for p in plan(&review, &cfg, ns_meta.as_ref(), verified_owner.as_ref()) {
            let r = p.reference;
            if let Some(d) = state.resolver.cached(&r) {
                state.verdicts.resolved(&r, &d);
                resolved.insert(p.image, d);
                continue;
            }
            if let Some(known) = state.verdicts.resolve_cached(&r) {
                // Off the request path: a zero budget starts the lookup and returns at once; its result
                // (the newest resolution) is used from the next review on.
                let res = state.resolver.clone();
                tokio::spawn(async move { res.resolve(&r, Duration::ZERO).await });
                stale.push((p.image, known));
                continue;
            }
            let res = state.resolver.clone();
            lookups.push(async move {
                let remaining = deadline.saturating_sub(start.elapsed());
                let d = res.resolve(&r, remaining).await;
                (p.image, r, d)
            });
        }
        if !lookups.is_empty() {
            for (image, r, d) in futures::future::join_all(lookups).await {
                match d {
                    Some(d) => {
                        state.verdicts.resolved(&r, &d);
                        resolved.insert(image, d);
                    }
                    None if state.resolver.missing(&r) => {
                        missing.insert(image);
                    }
                    None => {
                        if start.elapsed() >= deadline {
                            state.metrics.deadline_fallback();
                        }
                    }
                }
            }
        }
    }
    let policies = state.policies.current();
    let ctx = Context {
        endpoint,
        namespace: ns_meta.as_ref(),
        resolved: Some(&resolved),
        policies: Some(&policies),
        verified_owner: verified_owner.as_ref(),
        missing: Some(&missing),
    };
    let mut decision = decide(&review, &cfg, state.verdicts.as_ref(), &ctx);
    if decision.skipped.is_none() && !stale.is_empty() {
        for (image, digest) in &stale {
            decision.warnings.push(format!(
                "{image}: decided on the newest known digest {}… of its tag; re-resolution pending (the last \
                 lookup is older than the tag TTL)",
                &digest[..digest.len().min(19)]
            ));
        }
        decision.warnings =
            portcullis_admission::decide::fit_warnings(std::mem::take(&mut decision.warnings));
    }
    decision.audit_annotations.insert(
        CALLER_ANNOTATION.into(),
        if caller.authenticated {
            "authenticated"
        } else {
            "unauthenticated"
        }
        .into(),
    );
    if endpoint == Endpoint::Validate && !review.request.dry_run {
        state.verdicts.record(&review, &decision);
    }
    let out = decision.to_review_json();
    state.metrics.observe(
        metrics::DecisionLabels {
            endpoint: endpoint.as_str(),
            mode: decision.mode.map(|m| m.as_str()).unwrap_or("none"),
            result: decision.result_label(),
        },
        start.elapsed(),
    );
    tracing::debug!(object = %decision.object, allowed = decision.allowed, endpoint = endpoint.as_str(), "review decided");
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

/// Fetches and verifies the controller owner `review`'s object claims, giving up after `budget` (then the object
/// is checked as if it had no owner).
async fn verify_owner_within(
    state: &AppState,
    review: &Review,
    budget: Duration,
) -> Option<VerifiedOwner> {
    let lookup = state.owners.as_ref()?;
    let claim = owner_claim(review)?;
    let owner = tokio::time::timeout(budget, lookup.owner(&claim))
        .await
        .ok()
        .flatten();
    let Some(owner) = owner else {
        tracing::info!(kind = %claim.kind, name = %claim.name, namespace = %claim.namespace, "controller owner not found in time; checking the object as unowned");
        return None;
    };
    match verify_owner(review, &claim, &owner) {
        Ok(v) => Some(v),
        Err(why) => {
            tracing::info!(kind = %claim.kind, name = %claim.name, namespace = %claim.namespace, %why, "controller owner not verified; checking the object as unowned");
            None
        }
    }
}
