//! The policy gates, one file per gate. Each file holds its gate's catalogue entry (triggers, parameters,
//! docs), how a rule's parameters compile into the gate's check, how that check runs, and its unit tests,
//! behind the [`Gate`] trait. The [`registry!`] list at the end of this file registers every gate: it gives
//! the catalogue ([`GATES`]), the compiled [`Check`] (one variant per gate) and the dispatch on it — a
//! `match` per rule, so the per-finding loops inside a gate are static code.
//!
//! Adding a trigger to a gate changes only that gate's file; adding a gate is a new file plus one line in
//! the registry (see the crate's `README.md`).

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;

use crate::ImageInput;
use crate::catalog::{GateSpec, TriggerSpec, eol};

mod common;
mod facts;

mod always;
mod distro;
mod dockerfile;
mod files;
mod licenses;
mod malware;
mod metadata;
mod npms;
mod packages;
mod passwd_file;
mod retrieved_files;
mod ruby_gems;
mod secret_scans;
mod signature;
mod vulnerabilities;

pub use dockerfile::{INSTRUCTION_CHECKS, INSTRUCTIONS};
pub use metadata::{ATTRIBUTE_CHECKS, ATTRIBUTES};

use dockerfile::DockerfileView;
use facts::Facts;

/// A rule's parameters: names lower case, values type-checked against the catalogue.
pub(crate) type Params = BTreeMap<String, String>;

/// One policy gate: its catalogue entry, how a rule compiles, how a compiled rule runs.
pub(crate) trait Gate {
    /// The gate's compiled rule: usually an enum with one variant per implemented trigger.
    type Check: std::fmt::Debug;

    /// The gate's catalogue entry: triggers, parameters and their docs (`policy describe` prints it).
    const SPEC: GateSpec;

    /// Compiles a validated rule of `trigger` (one of [`Gate::SPEC`]'s triggers whose data the analyser
    /// collects). `Err` says why the rule cannot be evaluated (e.g. a bad regex).
    fn compile(trigger: &'static TriggerSpec, params: &Params) -> Result<Self::Check, String>;

    /// Checks a rule's parameters together, beyond each one's type in [`Gate::SPEC`] (e.g. a value whose
    /// form depends on another parameter). `Err` says what is wrong and how to fix it; the bundle is refused.
    fn validate(_trigger: &'static TriggerSpec, _params: &Params) -> Result<(), String> {
        Ok(())
    }

    /// Runs a compiled rule against the image in `ctx`, firing into `out` (or marking it not evaluated).
    fn run<'c>(check: &Self::Check, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>);

    /// The check output of the row that finding `fi` fired, for gates that fire findings
    /// ([`Outcome::fire_finding`]); rendered on demand.
    fn finding_msg(_check: &Self::Check, _ctx: &Ctx<'_>, _fi: usize) -> String {
        String::new()
    }
}

/// Compiles a validated rule's parameters (names lower case, values type-checked by the catalogue).
pub(crate) fn compile(
    gate: &str,
    trigger: &'static TriggerSpec,
    params: &Params,
) -> Result<Check, String> {
    if let Some(missing) = trigger.missing_data {
        return Ok(Check::Missing(missing));
    }
    compile_gate(gate, trigger, params)
}

impl Check {
    /// True for a trigger that can only report it was not evaluated (missing data, bad parameters).
    pub(crate) fn is_unevaluable(&self) -> bool {
        matches!(self, Check::Missing(_) | Check::Invalid(_))
    }
}

/// Runs one compiled check; `fired` is an empty buffer to fire into (one is reused across rules).
pub(crate) fn run<'c>(
    check: &Check,
    ctx: &'c Ctx<'_>,
    want_msgs: bool,
    fired: Vec<Fired<'c>>,
) -> Outcome<'c> {
    let mut out = Outcome {
        fired,
        not_evaluated: None,
        want_msgs,
    };
    run_gate(check, ctx, &mut out);
    out
}

/// One fired trigger instance: a finding (thousands per evaluation, kept to an index), or another trigger
/// with its id and check output.
#[derive(Debug, Clone)]
pub(crate) enum Fired<'c> {
    /// A vulnerability trigger: the finding's index in the match report; its trigger id comes from the
    /// context and its check output from [`finding_msg`].
    Finding(usize),
    /// Any other trigger: its id and check output (empty when the caller asked for decisions only).
    Other(Box<(Cow<'c, str>, String)>),
}

/// What running a check produced: fired instances and, when the data was (partly) missing, why.
#[derive(Debug, Default)]
pub(crate) struct Outcome<'c> {
    pub fired: Vec<Fired<'c>>,
    pub not_evaluated: Option<String>,
    want_msgs: bool,
}

impl Fired<'_> {
    /// The finding that fired, if a finding did.
    pub(crate) fn finding(&self) -> Option<usize> {
        match self {
            Fired::Finding(fi) => Some(*fi),
            Fired::Other(_) => None,
        }
    }

    /// The trigger id and check output of a trigger not fired by a finding (empty for a finding).
    pub(crate) fn into_texts(self) -> (String, String) {
        match self {
            Fired::Finding(_) => (String::new(), String::new()),
            Fired::Other(b) => {
                let (id, msg) = *b;
                (id.into_owned(), msg)
            }
        }
    }

    /// The trigger id (a finding's `CVE-…+package` comes from the context).
    pub(crate) fn id<'s>(&'s self, ctx: &'s Ctx<'_>) -> &'s str {
        match self {
            Fired::Finding(fi) => ctx.vuln_id(*fi),
            Fired::Other(b) => &b.0,
        }
    }
}

impl<'c> Outcome<'c> {
    /// Fires with `trigger_id`; `msg` (the check output) is only rendered when the caller wants outputs.
    pub(crate) fn fire(
        &mut self,
        trigger_id: impl Into<Cow<'c, str>>,
        msg: impl FnOnce() -> String,
    ) {
        let msg = if self.want_msgs { msg() } else { String::new() };
        self.fired
            .push(Fired::Other(Box::new((trigger_id.into(), msg))));
    }

    /// Fires for finding `fi`, whose trigger id (`CVE-…+package`) the context holds; its check output is
    /// rendered on demand by [`Gate::finding_msg`].
    pub(crate) fn fire_finding(&mut self, fi: usize) {
        self.fired.push(Fired::Finding(fi));
    }

    /// The trigger could not be evaluated (the data is missing): nothing fires, `reason` is reported.
    pub(crate) fn missing(&mut self, reason: impl Into<String>) {
        self.fired.clear();
        self.not_evaluated = Some(reason.into());
    }
}

/// Per-evaluation data shared by every rule: the input, the Dockerfile view and each finding's trigger id
/// (`CVE-…+package`), computed once instead of once per rule.
pub(crate) struct Ctx<'a> {
    pub input: ImageInput<'a>,
    pub df: DockerfileView,
    /// Each finding's trigger id, made on first use (a decision may never need it).
    vuln_ids: Vec<OnceCell<String>>,
    /// What rules compare about each finding, in the match report's order.
    pub facts: Vec<Facts>,
}

impl<'a> Ctx<'a> {
    /// Finding `fi`'s trigger id, `CVE-…+package`.
    pub(crate) fn vuln_id(&self, fi: usize) -> &str {
        self.vuln_ids[fi].get_or_init(|| {
            let f = &self.input.report.findings[fi];
            let mut id = String::with_capacity(f.id.len() + 1 + f.package_name.len());
            id.push_str(&f.id);
            id.push('+');
            id.push_str(&f.package_name);
            id
        })
    }

    /// The context of one evaluation of `input`.
    pub(crate) fn new(input: &ImageInput<'a>) -> Ctx<'a> {
        Ctx {
            input: *input,
            df: DockerfileView::new(input),
            vuln_ids: (0..input.report.findings.len())
                .map(|_| OnceCell::new())
                .collect(),
            facts: input.report.findings.iter().map(Facts::of).collect(),
        }
    }
}

/// Registers the gates: `module::Type` for each gate (in `policy describe` order), then the end-of-life
/// gates' catalogue entries. Generates [`Check`], [`GATES`] and the dispatch functions.
macro_rules! registry {
    (gates: [$($module:ident :: $gate:ident),* $(,)?], end_of_life: [$($eol:expr),* $(,)?] $(,)?) => {
        /// A compiled rule: its gate's check, or why it cannot be evaluated.
        #[derive(Debug)]
        pub(crate) enum Check {
            $(
                #[doc = concat!("A rule of gate `", stringify!($module), "`.")]
                $gate(<$module::$gate as Gate>::Check),
            )*
            /// The analyser does not collect the data (reason from the catalogue).
            Missing(&'static str),
            /// The rule's parameters cannot be compiled (e.g. a bad regex).
            Invalid(String),
        }

        /// Every gate, in `policy describe` order: the registered gates, then the end-of-life ones.
        pub static GATES: &[GateSpec] = &[$(<$module::$gate as Gate>::SPEC,)* $($eol,)*];

        /// Checks a rule's parameters together ([`Gate::validate`]); `Err` refuses the bundle.
        pub(crate) fn validate(
            gate: &str,
            trigger: &'static TriggerSpec,
            params: &Params,
        ) -> Result<(), String> {
            $(
                if gate == <$module::$gate as Gate>::SPEC.name {
                    return <$module::$gate as Gate>::validate(trigger, params);
                }
            )*
            Ok(())
        }

        fn compile_gate(
            gate: &str,
            trigger: &'static TriggerSpec,
            params: &Params,
        ) -> Result<Check, String> {
            $(
                if gate == <$module::$gate as Gate>::SPEC.name {
                    return <$module::$gate as Gate>::compile(trigger, params).map(Check::$gate);
                }
            )*
            Err(format!("{gate}.{} has no implementation in this build", trigger.name))
        }

        fn run_gate<'c>(check: &Check, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
            match check {
                $(Check::$gate(c) => <$module::$gate as Gate>::run(c, ctx, out),)*
                Check::Missing(reason) => out.missing(*reason),
                Check::Invalid(reason) => out.missing(reason.clone()),
            }
        }

        /// The check output of a row that a finding fired (finding `fi` of the input, fired by `check`):
        /// rendered on demand, since a table has thousands of them and most are never read.
        pub(crate) fn finding_msg(check: &Check, ctx: &Ctx<'_>, fi: usize) -> String {
            match check {
                $(Check::$gate(c) => <$module::$gate as Gate>::finding_msg(c, ctx, fi),)*
                Check::Missing(_) | Check::Invalid(_) => String::new(),
            }
        }
    };
}

registry! {
    gates: [
        always::Always,
        dockerfile::Dockerfile,
        files::Files,
        licenses::Licenses,
        malware::Malware,
        metadata::Metadata,
        npms::Npms,
        packages::Packages,
        passwd_file::PasswdFile,
        retrieved_files::RetrievedFiles,
        ruby_gems::RubyGems,
        secret_scans::SecretScans,
        signature::Signature,
        vulnerabilities::Vulnerabilities,
        distro::Distro,
    ],
    end_of_life: [
        eol("anchoresec", Some("vulnerabilities")),
        eol("dockerfilecheck", Some("dockerfile")),
        eol("filecheck", Some("files")),
        eol("fileparse_passwd", Some("passwd_file")),
        eol("gemcheck", Some("ruby_gems")),
        eol("imagecheck", Some("metadata")),
        eol("licblacklist", Some("licenses")),
        eol("metadatacheck", Some("metadata")),
        eol("npmcheck", Some("npms")),
        eol("pkgblacklist", Some("packages")),
        eol("pkgcheck", Some("packages")),
        eol("pkgdiff", None),
        eol("suiddiff", None),
        eol("secretcheck", Some("secret_scans")),
        eol("contentcheck", Some("retrieved_files")),
        eol("basecheck", None),
    ],
}
