//! The schema migrations' SQL.

/// Schema version 2, shared by both backends: when each image last changed (by the database's clock; what the
/// admission snapshot refreshes incrementally from), when a tag was last resolved to a digest by a registry
/// lookup, and the namespace each queued analysis was asked for by with each namespace's last turn (the queue
/// claims round-robin across namespaces).
pub(crate) const SCHEMA_V2: &str = "
    ALTER TABLE images ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
    CREATE INDEX images_changed_at ON images(changed_at);
    ALTER TABLE image_tags ADD COLUMN resolved_at BIGINT;
    ALTER TABLE queue ADD COLUMN namespace TEXT NOT NULL DEFAULT '';
    CREATE TABLE queue_turns (
        namespace TEXT PRIMARY KEY,
        turn BIGINT NOT NULL
    );";

/// Schema version 3: which access (whose credentials) was seen to pull which image, so that an analysis pulled
/// with one namespace's pull secret is only reported to namespaces that may pull the image themselves.
/// Version 5: triage documents (VEX, ignore rules) every replica applies.
pub(crate) const SCHEMA_V5: &str = "CREATE TABLE triage_documents (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX triage_documents_kind ON triage_documents(kind, created_at);";

pub(crate) fn schema_v3() -> String {
    "CREATE TABLE image_access (
        digest TEXT NOT NULL,
        access TEXT NOT NULL,
        seen_at BIGINT NOT NULL,
        PRIMARY KEY (digest, access)
    );
    CREATE INDEX image_access_seen ON image_access(seen_at);"
        .to_string()
}

/// Schema version 6: signature verification facts per image digest and requirement (the engine's key for a
/// `verify` block), as JSON, so that admission answers signature requirements from memory on every replica.
pub(crate) fn schema_v6() -> String {
    "CREATE TABLE image_signatures (
        digest TEXT NOT NULL,
        requirement TEXT NOT NULL,
        facts TEXT NOT NULL,
        verified_at BIGINT NOT NULL,
        PRIMARY KEY (digest, requirement)
    );
    CREATE INDEX image_signatures_verified ON image_signatures(verified_at);"
        .to_string()
}

/// Schema version 4: generations of the vulnerability data one replica synced and published for the others to
/// install (a `portcullis db export` bundle in base64 chunks, with its SHA-256).
pub(crate) fn schema_v4() -> String {
    "CREATE TABLE vuln_generations (
        generation BIGINT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        size BIGINT NOT NULL,
        chunks BIGINT NOT NULL,
        db_version TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE vuln_generation_chunks (
        generation BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (generation, seq)
    );"
    .to_string()
}

/// Schema version 1, shared by both backends except for the id column type and the append-only triggers.
pub(crate) fn schema_v1(id_col: &str) -> String {
    format!(
        "CREATE TABLE images (
            digest TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            error TEXT,
            annotations TEXT NOT NULL,
            image_id TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            analyzed_at BIGINT
        );
        CREATE TABLE image_tags (
            digest TEXT NOT NULL REFERENCES images(digest),
            tag TEXT NOT NULL,
            first_seen BIGINT NOT NULL,
            last_seen BIGINT NOT NULL,
            PRIMARY KEY (digest, tag)
        );
        CREATE INDEX image_tags_tag ON image_tags(tag);
        CREATE TABLE sboms (
            digest TEXT PRIMARY KEY REFERENCES images(digest),
            sbom TEXT NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE TABLE findings (
            digest TEXT PRIMARY KEY REFERENCES images(digest),
            db_version TEXT NOT NULL,
            report TEXT NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE TABLE policies (
            account TEXT NOT NULL,
            id TEXT NOT NULL,
            name TEXT,
            digest TEXT NOT NULL,
            active BIGINT NOT NULL,
            bundle TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (account, id)
        );
        CREATE UNIQUE INDEX policies_one_active ON policies(account) WHERE active = 1;
        CREATE TABLE evaluations (
            id {id_col},
            digest TEXT NOT NULL,
            tag TEXT NOT NULL,
            bundle_id TEXT NOT NULL,
            bundle_digest TEXT NOT NULL,
            db_version TEXT NOT NULL,
            final_action TEXT NOT NULL,
            verdict TEXT NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE INDEX evaluations_lookup ON evaluations(digest, tag, bundle_id);
        CREATE TABLE decisions (
            id {id_col},
            at BIGINT NOT NULL,
            who TEXT NOT NULL,
            operation TEXT NOT NULL,
            kind TEXT NOT NULL,
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            uid TEXT NOT NULL,
            images TEXT NOT NULL,
            digests TEXT NOT NULL,
            mode TEXT NOT NULL,
            allowed BIGINT NOT NULL,
            verdict TEXT NOT NULL,
            reasons TEXT NOT NULL
        );
        CREATE INDEX decisions_at ON decisions(at);
        CREATE TABLE queue (
            digest TEXT PRIMARY KEY,
            pull TEXT NOT NULL,
            registry TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            max_attempts BIGINT NOT NULL,
            not_before BIGINT NOT NULL,
            claimed_by TEXT,
            lease_until BIGINT,
            last_error TEXT,
            enqueued_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        );
        CREATE INDEX queue_due ON queue(state, not_before);
        CREATE TABLE registry_limits (
            registry TEXT PRIMARY KEY,
            next_allowed BIGINT NOT NULL
        );
        CREATE TABLE feeds (
            name TEXT PRIMARY KEY,
            db_version TEXT NOT NULL,
            record_count BIGINT NOT NULL,
            status TEXT NOT NULL,
            updated_at BIGINT NOT NULL
        );"
    )
}
