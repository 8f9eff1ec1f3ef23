//! The command line, as clap derives it. Commands that need the plan take
//! `--plan FILE`; commands that need the store take `--data DIR`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// sitewarden makes a website security emergency plan executable: it finds
/// defaced pages and outages, opens incidents and keeps the evidence.
#[derive(Debug, Parser)]
#[command(name = "sitewarden", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the plan file is.
#[derive(Debug, Clone, Args)]
pub struct PlanArg {
    /// The plan file.
    #[arg(long, value_name = "FILE", default_value = "sitewarden.toml")]
    pub plan: PathBuf,
}

/// Where the data directory is.
#[derive(Debug, Clone, Args)]
pub struct DataArg {
    /// The data directory (embedded store, baselines, evidence).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "sitewarden-data",
        env = "SITEWARDEN_DATA"
    )]
    pub data: PathBuf,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a fully commented sample plan (sitewarden.toml) into DIR.
    Init {
        /// Where to write it.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Overwrite an existing sitewarden.toml.
        #[arg(long)]
        force: bool,
    },
    /// Validate a plan file and report every problem with its path.
    CheckPlan {
        /// The plan file.
        #[arg(default_value = "sitewarden.toml")]
        file: PathBuf,
    },
    /// Fetch every page and store its approved baseline (a new version each time).
    Baseline {
        #[command(flatten)]
        plan: PlanArg,
        #[command(flatten)]
        data: DataArg,
        /// Only this site.
        #[arg(long)]
        site: Option<String>,
        /// Only this page (with --site).
        #[arg(long, requires = "site")]
        page: Option<String>,
        /// Who approves (recorded with the version).
        #[arg(long, default_value_t = default_approver())]
        approved_by: String,
    },
    /// Check every page once against its baseline; exit 2 when any is defaced or down.
    Check {
        #[command(flatten)]
        plan: PlanArg,
        #[command(flatten)]
        data: DataArg,
        /// Check once and exit (the only mode; `serve` checks continuously).
        #[arg(long)]
        once: bool,
        /// Print one JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run the probe loop, the guards, the incident runner and the gateway
    /// until interrupted; SIGHUP reloads the gateway from the plan.
    Serve {
        #[command(flatten)]
        plan: PlanArg,
        #[command(flatten)]
        data: DataArg,
    },
    /// Sites, last verdicts and open incidents.
    Status {
        #[command(flatten)]
        plan: PlanArg,
        #[command(flatten)]
        data: DataArg,
    },
    /// Incidents: list them or show one.
    Incident {
        #[command(subcommand)]
        command: IncidentCommand,
    },
    /// The notification outbox: what waits, what was sent, what died; send dead letters again.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Verify the evidence register: hash chain and every stored file.
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// The web-root integrity guard: baseline, watch and restore, publish, rollback, export.
    Guard {
        #[command(subcommand)]
        command: crate::commands::guard::GuardCommand,
    },
    /// The gateway: run the reverse proxy, or steer a running one.
    Gateway(crate::commands::gateway::GatewayArgs),
    /// Access logs: analyse them, or trace the requests around an incident.
    Logs {
        #[command(subcommand)]
        command: crate::commands::logs::LogsCommand,
    },
    /// Cut a site off from external service now (maintenance page, 503).
    Contain {
        /// The plan's site name or one of its host names.
        site: String,
        /// Why (recorded, and shown to the people notified).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        plan: PlanArg,
        #[command(flatten)]
        data: DataArg,
        /// Who is acting.
        #[arg(long, default_value_t = default_approver())]
        by: String,
    },
    /// Put a contained site back into service.
    Release {
        /// The plan's site name or one of its host names.
        site: String,
        /// Why (recorded).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        plan: PlanArg,
        #[command(flatten)]
        data: DataArg,
        /// Who is acting.
        #[arg(long, default_value_t = default_approver())]
        by: String,
    },
    /// Run sample sites on loopback, watch them, deface one in a drill, restore it.
    Demo {
        /// Where to put the demo's plan and data (default: a new temp directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Stop after the drill has run through (for scripts and tests)
        /// instead of watching until Ctrl-C.
        #[arg(long)]
        exit_after_drill: bool,
    },
}

impl Command {
    /// Whether the command prints its answer and ends (a listing, a
    /// report), as opposed to one that serves or watches until stopped.
    pub fn prints_a_listing(&self) -> bool {
        matches!(
            self,
            Command::CheckPlan { .. }
                | Command::Status { .. }
                | Command::Incident { .. }
                | Command::Outbox { .. }
                | Command::Evidence { .. }
                | Command::Logs { .. }
        )
    }
}

/// The incident and the person acting on it (recorded in its timeline).
#[derive(Debug, Clone, Args)]
pub struct ActArgs {
    /// The incident id.
    pub id: i64,
    #[command(flatten)]
    pub plan: PlanArg,
    #[command(flatten)]
    pub data: DataArg,
    /// Who is acting (a name from the plan's roster for approvals).
    #[arg(long, default_value_t = default_approver())]
    pub by: String,
}

/// `sitewarden incident …`
#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// All incidents, newest first.
    List {
        #[command(flatten)]
        plan: PlanArg,
        #[command(flatten)]
        data: DataArg,
        /// JSON instead of a table (with level, suggested level and clocks).
        #[arg(long)]
        json: bool,
    },
    /// One incident: level, clocks, exposure, signals, timeline, evidence.
    Show {
        /// The incident id.
        id: i64,
        #[command(flatten)]
        plan: PlanArg,
        #[command(flatten)]
        data: DataArg,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Open an incident a person observed (the plan's start condition).
    Open {
        #[command(flatten)]
        plan: PlanArg,
        #[command(flatten)]
        data: DataArg,
        /// The plan's site name.
        #[arg(long)]
        site: String,
        /// The page, if one.
        #[arg(long)]
        page: Option<String>,
        /// defacement, hidden-links, webshell, ddos, outage or other.
        #[arg(long)]
        kind: String,
        /// What was observed, in one line.
        #[arg(long)]
        summary: String,
        /// When it was discovered (RFC 3339); now by default.
        #[arg(long)]
        discovered_at: Option<String>,
        /// Mark it as a drill.
        #[arg(long)]
        drill: bool,
        /// Who reports it (the information source).
        #[arg(long, default_value_t = default_approver())]
        by: String,
    },
    /// Take the incident on: stops the escalation chain.
    Ack {
        #[command(flatten)]
        act: ActArgs,
    },
    /// Decide the level (I–IV) with a reason.
    Level {
        #[command(flatten)]
        act: ActArgs,
        /// The level id.
        #[arg(long)]
        to: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Record that the risk assessment is done (state: assessed).
    Assess {
        #[command(flatten)]
        act: ActArgs,
    },
    /// Record that a report went out (initial, national, progress, daily, final).
    Report {
        #[command(flatten)]
        act: ActArgs,
        /// Which report.
        #[arg(long)]
        kind: String,
        /// What it said, in short.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Record that the site was cut off from external service.
    Contain {
        #[command(flatten)]
        act: ActArgs,
        /// What was done.
        #[arg(long)]
        note: String,
    },
    /// Answer an approval request of the playbook.
    Approve {
        #[command(flatten)]
        act: ActArgs,
        /// The request's number (see `incident show`).
        #[arg(long)]
        request: usize,
        /// Refuse instead of approving.
        #[arg(long)]
        deny: bool,
        /// Any instruction given with the answer.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Record that an outside authority (the plan's `[[external_contacts]]`)
    /// was phoned on the escalation chain's call/fax task: the task is
    /// done and the chain gives no more for that contact.
    Contacted {
        #[command(flatten)]
        act: ActArgs,
        /// The contact's id in the plan (e.g. cyberspace_office).
        #[arg(long)]
        contact: String,
        /// The fax followed the call.
        #[arg(long)]
        fax: bool,
        /// What was said or agreed, in short.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Add a note to the timeline.
    Note {
        #[command(flatten)]
        act: ActArgs,
        /// The text.
        #[arg(long)]
        text: String,
    },
    /// Service restored and verified (state: recovered).
    Resolve {
        #[command(flatten)]
        act: ActArgs,
    },
    /// The investigation and assessment report is written (state: reviewed).
    Review {
        #[command(flatten)]
        act: ActArgs,
    },
    /// Close the incident.
    Close {
        #[command(flatten)]
        act: ActArgs,
    },
    /// Mark the incident a false alarm.
    FalseAlarm {
        #[command(flatten)]
        act: ActArgs,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

/// A message's state in the outbox, as the command line spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutboxStateArg {
    /// Waiting for its next attempt.
    Pending,
    /// Being sent now.
    Sending,
    /// Confirmed by its channel.
    Sent,
    /// Given up on after the last attempt, or refused for good.
    Dead,
}

/// `sitewarden outbox …`
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// The messages, oldest first: recipient, channel, state, attempts, last error.
    List {
        #[command(flatten)]
        data: DataArg,
        /// Only messages in this state.
        #[arg(long, value_enum)]
        state: Option<OutboxStateArg>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send a dead letter again (back to pending, attempts from zero); recorded
    /// on the message and in its incident's timeline.
    Retry {
        /// The message id (see `outbox list --state dead`).
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<String>,
        /// Every dead letter.
        #[arg(long)]
        all_dead: bool,
        #[command(flatten)]
        plan: PlanArg,
        #[command(flatten)]
        data: DataArg,
        /// Who is acting (recorded).
        #[arg(long, default_value_t = default_approver())]
        by: String,
    },
}

/// `sitewarden evidence …`
#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Check every evidence record's chained hash and every file's SHA-256.
    Verify {
        #[command(flatten)]
        data: DataArg,
    },
}

pub(crate) fn default_approver() -> String {
    std::env::var("USER").unwrap_or_else(|_| "operator".to_string())
}
