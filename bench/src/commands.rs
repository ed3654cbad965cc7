//! Command handling from outside: traders talk to the real `herald-command-bot` binary (a
//! child process, JSON logs to a file as in production) through the Telegram double served by
//! this process, the bot on PostgreSQL (a schema of its own) and NATS (a prefix of its own),
//! both removed afterwards. TARGETS.md's "Commands" line: ≥ 3,000 commands/s, p99 from update
//! to reply ≤ 50 ms with 500 concurrent traders.
//!
//! Phase 1: `--traders` traders, `--concurrency` of them in flight at once, each sends
//! `/start`, waits for the answer, then `/subscribe` and waits again. With `--presses`, phase
//! 2, measured apart (1.5 s later, past the per-chat spacing of phase 1's last answers): each
//! trader sends `/settings`, then presses "Buy: 🔔 on" under the menu and waits for the
//! button's answer (`answerCallbackQuery`). `--gap-ms` makes each trader pause that long
//! between an answer and its next command. A phase's rate is its commands (the press counts
//! as one) over the wall clock from its first update injected to its last answer. A
//! message's latency runs from injecting the update to the double accepting the reply
//! (`SentMessage::at`); a press's, to the bench seeing its answer (the double keeps no time
//! for it: up to one look and one pause late, 1–5 ms, see below). Every answer is checked:
//! how many messages each trader got, their first words, the edit and the notice of the
//! press.
//!
//! The double enforces no limit (none is set, as in `fanout-bin`), and the bot runs with
//! `HERALD_TELEGRAM_RATE_LIMIT=0` and `HERALD_COMMAND_BOT_RATE_LIMIT=0`. Herald's own budget
//! still spaces sends and edits to one chat 1 s + 25 ms apart (Telegram's 1 message/s per
//! chat, which the rate setting does not lift): an answer that follows another to the same
//! chat within a second waits for it, and the bench counts and prints those.
//!
//! Alongside the answers it prints what the bot says of itself (its
//! `herald_command_bot_command_duration_seconds` and `herald_telegram_request_duration_seconds`
//! from `/metrics`, before and after the phase), the CPU time per command of the bot, of this
//! process (the double and the traders), of the `postgres` and `nats-server` processes alive
//! at the end of the phase (other users' work on them included), and the bot's RSS.
//!
//! `--baseline` runs the same phases against a bare teloxide `Dispatcher` in this process
//! (answers every message with a fixed text, presses with an edit and a notice; no database,
//! no budget): TARGETS.md's "teloxide replying without a database".
//!
//! Needs `herald-command-bot` built next to this binary
//! (`cargo build --release -p herald-command-bot -p herald-bench`).
//!
//! How the traders wait: one watcher looks at the double every millisecond or so for what
//! arrived since its last look (the chats that got a message, then those chats' messages; the
//! press answers), rather than one waiter per trader (the double wakes every waiter on every
//! change: 500 waiters would cost more than the bot). After a long look it pauses longer (9×
//! the look, at most 5 ms); its looks are printed with each phase.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use futures::{StreamExt as _, TryStreamExt as _};
use herald_testkit::db::{Backend, TestDatabase};
use herald_testkit::nats::TestNats;
use herald_testkit::telegram::{CallbackAnswer, SentMessage, TelegramDouble, TestUser};
use tokio::sync::oneshot;

use crate::external::{cpu_seconds, proc_kb, sibling, start_service};
use crate::quantile;
use crate::stack::TOKEN;

/// Options.
#[derive(clap::Args)]
pub struct Args {
    /// Traders, each sending /start then /subscribe.
    #[arg(long, default_value_t = 10_000)]
    pub traders: usize,
    /// Traders with a command in flight at once.
    #[arg(long, default_value_t = 500)]
    pub concurrency: usize,
    /// Then a second phase, measured apart: every trader sends /settings and presses
    /// "Buy: 🔔 on".
    #[arg(long)]
    pub presses: bool,
    /// Against a bare teloxide bot in this process (fixed answers, no database) instead of
    /// herald-command-bot.
    #[arg(long)]
    pub baseline: bool,
    /// A trader's pause after an answer before its next command, in milliseconds (0: at
    /// once). 1100 or more keeps every chat under Telegram's 1 message/s, so that Herald's
    /// per-chat spacing holds no answer: what the bot itself can do (with enough traders in
    /// flight to keep it busy).
    #[arg(long, default_value_t = 0)]
    pub gap_ms: u64,
    /// Seconds to wait for any one answer before the run fails.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// The command-bot binary to measure (default: `herald-command-bot` next to this one).
    #[arg(long)]
    pub bot_bin: Option<PathBuf>,
}

/// The first trader's Telegram id (the others follow).
const FIRST_TRADER: i64 = 70_000_000;

/// The button every trader presses under the /settings menu.
const BUTTON: &str = "Buy: 🔔 on";

/// How the answers must begin, per bot.
struct Expect {
    start: &'static str,
    subscribe: &'static str,
    settings: &'static str,
    /// The notice of the press (`answerCallbackQuery`).
    notice: &'static str,
    /// What the pressed menu says afterwards.
    edited: &'static str,
}

const HERALD: Expect = Expect {
    start: "👋 Welcome to Herald",
    subscribe: "✅ Subscribed!",
    settings: "⚙️ Your settings",
    notice: "Saved.",
    edited: "Buy 🔕 silent",
};

const BARE: Expect = Expect {
    start: bare::ANSWER,
    subscribe: bare::ANSWER,
    settings: bare::ANSWER,
    notice: bare::NOTICE,
    edited: bare::EDITED,
};

pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.traders > 0 && args.concurrency > 0,
        "--traders and --concurrency must be at least 1"
    );
    if args.baseline {
        return baseline(&args).await;
    }
    let db = TestDatabase::new(Backend::Postgres).await?;
    let nats = TestNats::new();
    // `herald` stops the bot on every path, so its connections are gone before the drop.
    let measured = herald(&args, &db, &nats).await;
    let nats_removed = nats.cleanup().await;
    let db_removed = db.cleanup().await;
    measured.and(nats_removed).and(db_removed)
}

/// The real bot as a child process.
async fn herald(args: &Args, db: &TestDatabase, nats: &TestNats) -> anyhow::Result<()> {
    let telegram = TelegramDouble::start(TOKEN).await?;
    let binary = match &args.bot_bin {
        Some(path) => path.clone(),
        None => sibling("herald-command-bot")?,
    };
    let env = [
        ("HERALD_DATABASE_URL", db.url().to_string()),
        ("HERALD_NATS_URL", nats.url.clone()),
        ("HERALD_NATS_PREFIX", nats.prefix.clone()),
        ("HERALD_TELEGRAM_TOKEN", TOKEN.to_string()),
        ("HERALD_TELEGRAM_API_URL", telegram.api_url()),
        ("HERALD_TELEGRAM_RATE_LIMIT", "0".to_string()),
        ("HERALD_COMMAND_BOT_RATE_LIMIT", "0".to_string()),
    ];
    let work = tempfile::tempdir()?;
    let log = work.path().join("command-bot.log");
    // Killed when dropped (`kill_on_drop`), should anything below fail.
    let (mut child, url) = start_service(&binary, &env, "HERALD_COMMAND_BOT_ADDR", &log).await?;
    println!("measuring {} (log: JSON to a file)", binary.display());
    let measured = async {
        telegram
            .wait_until(|d| d.is_polling(), Duration::from_secs(30))
            .await
            .context("herald-command-bot never polled the double")?;
        let pid = child.id().context("the command-bot's pid")?;
        let bot = Bot {
            child: &mut child,
            pid,
            metrics_url: format!("{url}/metrics"),
            log: &log,
            idle_kb: proc_kb(pid, "VmRSS:"),
        };
        scenario(args, &telegram, &HERALD, Some(bot)).await
    }
    .await;
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    measured
}

/// The bare teloxide bot in this process.
async fn baseline(args: &Args) -> anyhow::Result<()> {
    let telegram = TelegramDouble::start(TOKEN).await?;
    let bot = bare::start(&telegram.api_url())?;
    println!("measuring a bare teloxide Dispatcher in this process (no database, no budget)");
    let measured = async {
        telegram
            .wait_until(|d| d.is_polling(), Duration::from_secs(30))
            .await
            .context("the bare bot never polled the double")?;
        scenario(args, &telegram, &BARE, None).await
    }
    .await;
    bot.stop().await;
    measured
}

/// The running command-bot process, for its health, metrics, CPU and memory.
struct Bot<'a> {
    child: &'a mut tokio::process::Child,
    pid: u32,
    metrics_url: String,
    log: &'a Path,
    idle_kb: u64,
}

impl Bot<'_> {
    /// Fails once the process has exited, with the end of its log.
    async fn exited(&mut self) -> anyhow::Error {
        let status = self.child.wait().await;
        let log = std::fs::read_to_string(self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        anyhow::anyhow!(
            "herald-command-bot exited ({status:?}) during the run; the end of its log:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }
}

/// The phases against whichever bot is polling `telegram`.
async fn scenario(
    args: &Args,
    telegram: &TelegramDouble,
    expect: &Expect,
    mut bot: Option<Bot<'_>>,
) -> anyhow::Result<()> {
    let traders: Vec<TestUser> = (0..args.traders as i64)
        .map(|i| TestUser::trader(FIRST_TRADER + i))
        .collect();
    let watcher = Watcher::default();
    let timeout = Duration::from_secs(args.timeout);
    let who = if bot.is_some() {
        "postgres, real herald-command-bot"
    } else {
        "bare teloxide, no database"
    };
    let mut phases = vec![Phase::Subscribe];
    if args.presses {
        phases.push(Phase::Press);
    }
    // Each trader's last answer so far, to tell the answers the per-chat spacing held.
    let mut last_answer: HashMap<i64, SystemTime> = HashMap::new();
    let mut wrong = 0;
    for phase in phases {
        if phase != Phase::Subscribe {
            // Past the per-chat spacing of phase 1's last answers, so that they hold up none
            // of this phase's.
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        let before = Usage::read(bot.as_ref(), &watcher).await;
        let run = phase_run(
            phase,
            &traders,
            args,
            telegram,
            &watcher,
            timeout,
            &last_answer,
        );
        let mut runs = match bot.as_mut() {
            // The bot dying ends the run at once rather than after every trader's timeout.
            Some(bot) => tokio::select! {
                runs = run => runs?,
                e = bot.exited() => return Err(e),
            },
            None => run.await?,
        };
        if phase == Phase::Press {
            redraws(&mut runs, telegram, timeout).await;
        }
        // After the redraws: they are part of the presses' work.
        let after = Usage::read(bot.as_ref(), &watcher).await;
        let phase_wrong = check(phase, &runs, telegram, expect);
        wrong += phase_wrong;
        report(
            phase,
            who,
            args,
            &runs,
            phase_wrong,
            bot.is_some(),
            &before,
            &after,
        );
        for run in &runs {
            if let Some(step) = run.steps.last() {
                last_answer.insert(run.trader, step.answered);
            }
        }
    }
    if let Some(bot) = &bot {
        println!(
            "command-bot RSS: idle {:.0} MB, peak through the run {:.0} MB (target: idle <= 30 MB)",
            bot.idle_kb as f64 / 1024.0,
            proc_kb(bot.pid, "VmHWM:") as f64 / 1024.0
        );
    }
    anyhow::ensure!(wrong == 0, "{wrong} answer(s) were missing or wrong");
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `/start`, then `/subscribe`.
    Subscribe,
    /// `/settings`, then a press of [`BUTTON`].
    Press,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Phase::Subscribe => "/start then /subscribe",
            Phase::Press => "/settings then a press of \"Buy: 🔔 on\"",
        }
    }

    /// Messages (and edits) each trader has from the bot once the phase is over.
    fn messages_after(self) -> (usize, usize) {
        match self {
            Phase::Subscribe => (2, 0),
            Phase::Press => (3, 1),
        }
    }
}

/// One command and its answer.
struct Step {
    command: &'static str,
    sent: SystemTime,
    answered: SystemTime,
    /// The message's visible text, or the press's notice.
    text: String,
    /// The previous answer to the same chat, if any.
    previous: Option<SystemTime>,
    /// For a press: when the double accepted the menu's edit (which may come after the
    /// answer, waiting for the chat's turn on the budget).
    redrawn: Option<SystemTime>,
}

/// One trader's commands in a phase.
struct TraderRun {
    trader: i64,
    steps: Vec<Step>,
}

/// Runs `phase` for every trader, `concurrency` at a time; fails at the first trader that
/// gets no answer in time.
async fn phase_run(
    phase: Phase,
    traders: &[TestUser],
    args: &Args,
    telegram: &TelegramDouble,
    watcher: &Watcher,
    timeout: Duration,
    last_answer: &HashMap<i64, SystemTime>,
) -> anyhow::Result<Vec<TraderRun>> {
    let gap = Duration::from_millis(args.gap_ms);
    let all = futures::stream::iter(traders)
        .map(|trader| {
            let previous = last_answer.get(&trader.id).copied();
            trader_run(phase, trader, telegram, watcher, timeout, gap, previous)
        })
        .buffer_unordered(args.concurrency)
        .try_collect::<Vec<_>>();
    tokio::select! {
        runs = all => runs,
        never = watcher.watch(telegram) => match never {},
    }
}

async fn trader_run(
    phase: Phase,
    trader: &TestUser,
    telegram: &TelegramDouble,
    watcher: &Watcher,
    timeout: Duration,
    gap: Duration,
    mut previous: Option<SystemTime>,
) -> anyhow::Result<TraderRun> {
    let mut steps = Vec::with_capacity(2);
    let commands: &[&'static str] = match phase {
        Phase::Subscribe => &["/start", "/subscribe"],
        Phase::Press => &["/settings"],
    };
    let mut menu = None;
    for &command in commands {
        if !steps.is_empty() && !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
        let nth = telegram.sent_to(trader.id).len() + 1;
        let wait = watcher.expect(trader.id, Want::Message { nth });
        let sent = SystemTime::now();
        telegram.inject_message(trader, command);
        let Seen::Message(reply) = watcher.wait(trader.id, wait, timeout).await? else {
            bail!("trader {}: {command} answered by a press", trader.id);
        };
        steps.push(Step {
            command,
            sent,
            answered: reply.at,
            text: reply.text.clone(),
            previous,
            redrawn: None,
        });
        previous = Some(reply.at);
        menu = Some(reply);
    }
    if phase == Phase::Press {
        let menu = menu.context("no menu to press")?;
        if !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
        let sent = SystemTime::now();
        let press = telegram
            .press_button(trader, &menu, BUTTON)
            .with_context(|| {
                format!(
                    "trader {}: no button {BUTTON:?} under {:?}: {:?}",
                    trader.id,
                    menu.text,
                    menu.inline_buttons()
                )
            })?;
        // Registered before the watcher's next look, which alone reads the answers.
        let wait = watcher.expect(
            trader.id,
            Want::Answer {
                query_id: press.query_id,
            },
        );
        let Seen::Answer(at, answer) = watcher.wait(trader.id, wait, timeout).await? else {
            bail!("trader {}: the press answered by a message", trader.id);
        };
        steps.push(Step {
            command: "press",
            sent,
            answered: at,
            text: answer.text.unwrap_or_default(),
            previous,
            redrawn: None,
        });
    }
    Ok(TraderRun {
        trader: trader.id,
        steps,
    })
}

/// What a trader waits for.
enum Want {
    /// The chat's `nth` message from the bot.
    Message { nth: usize },
    /// The answer to the press `query_id`.
    Answer { query_id: String },
}

/// What arrived.
enum Seen {
    Message(SentMessage),
    /// When the bench saw the answer, and the answer.
    Answer(SystemTime, CallbackAnswer),
}

struct Pending {
    want: Want,
    tell: oneshot::Sender<Seen>,
}

/// Watches the double for the chats with a command in flight (see the module docs).
#[derive(Default)]
struct Watcher {
    state: Mutex<WatchState>,
}

#[derive(Default)]
struct WatchState {
    pending: HashMap<i64, Pending>,
    /// How many of the double's press answers (`callback_answers`, oldest first, never
    /// reordered) have been read: the next look reads only those after them, and only once
    /// the double has counted more `answerCallbackQuery` calls than this.
    answers_read: usize,
    /// How many of the double's accepted sends and edits (`accepted_at`, oldest first) have
    /// been read: only the chats of those after them are looked at.
    accepted_read: usize,
    looks: u64,
    looking: Duration,
}

impl Watcher {
    /// Registers what `chat` waits for (before the command goes out).
    fn expect(&self, chat: i64, want: Want) -> oneshot::Receiver<Seen> {
        let (tell, told) = oneshot::channel();
        self.lock().pending.insert(chat, Pending { want, tell });
        told
    }

    async fn wait(
        &self,
        chat: i64,
        told: oneshot::Receiver<Seen>,
        timeout: Duration,
    ) -> anyhow::Result<Seen> {
        match tokio::time::timeout(timeout, told).await {
            Ok(Ok(seen)) => Ok(seen),
            _ => {
                self.lock().pending.remove(&chat);
                bail!("trader {chat}: no answer within {timeout:?}")
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many looks so far, and the time they took.
    fn effort(&self) -> (u64, Duration) {
        let state = self.lock();
        (state.looks, state.looking)
    }

    /// Looks every millisecond or so, until dropped; after a long look (many answers to
    /// read, or the double's lock busy) it pauses up to 5 ms.
    async fn watch(&self, telegram: &TelegramDouble) -> std::convert::Infallible {
        loop {
            let started = Instant::now();
            self.look(telegram);
            let took = started.elapsed();
            {
                let mut state = self.lock();
                state.looks += 1;
                state.looking += took;
            }
            let pause = (took * 9).clamp(Duration::from_millis(1), Duration::from_millis(5));
            tokio::time::sleep(pause).await;
        }
    }

    fn look(&self, telegram: &TelegramDouble) {
        let mut state = self.lock();
        let mut arrived = Vec::new();
        // The chats that got a message or an edit since the last look.
        let accepted = telegram.accepted_at();
        let mut chats: Vec<i64> = accepted
            .iter()
            .skip(state.accepted_read)
            .map(|(chat, _)| *chat)
            .collect();
        state.accepted_read = accepted.len();
        drop(accepted);
        chats.sort_unstable();
        chats.dedup();
        for chat in chats {
            if let Some(Pending {
                want: Want::Message { nth },
                ..
            }) = state.pending.get(&chat)
                && let Some(m) = telegram.sent_to(chat).into_iter().nth(*nth - 1)
            {
                arrived.push((chat, Seen::Message(m)));
            }
        }
        // The press answers since the last look, if any press waits.
        let presses: HashMap<&str, i64> = state
            .pending
            .iter()
            .filter_map(|(chat, p)| match &p.want {
                Want::Answer { query_id } => Some((query_id.as_str(), *chat)),
                Want::Message { .. } => None,
            })
            .collect();
        if !presses.is_empty() && telegram.request_count("answerCallbackQuery") > state.answers_read
        {
            let answers = telegram.callback_answers();
            let now = SystemTime::now();
            for answer in answers.iter().skip(state.answers_read) {
                if let Some(&chat) = presses.get(answer.callback_query_id.as_str()) {
                    arrived.push((chat, Seen::Answer(now, answer.clone())));
                }
            }
            drop(presses);
            state.answers_read = answers.len();
        }
        for (chat, seen) in arrived {
            if let Some(p) = state.pending.remove(&chat) {
                let _ = p.tell.send(seen);
            }
        }
    }
}

/// Waits (at most `timeout`) for every pressed menu's edit, which the bot may send after
/// answering the press, then notes when the double accepted each (its `accepted_at`, read
/// once: the trader's last accepted send or edit).
async fn redraws(runs: &mut [TraderRun], telegram: &TelegramDouble, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline
        && runs
            .iter()
            .any(|r| telegram.edit_count(r.trader) < Phase::Press.messages_after().1)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (now, clock) = (Instant::now(), SystemTime::now());
    let mut last: HashMap<i64, Instant> = HashMap::new();
    for (chat, at) in telegram.accepted_at() {
        last.insert(chat, at);
    }
    for run in runs {
        let at = last.get(&run.trader).copied();
        if let Some(press) = run.steps.iter_mut().find(|s| s.command == "press")
            && telegram.edit_count(run.trader) > 0
        {
            press.redrawn = at.map(|at| clock - now.duration_since(at));
        }
    }
}

/// Counts the answers that are missing or wrong after `phase`, printing the first few.
fn check(phase: Phase, runs: &[TraderRun], telegram: &TelegramDouble, expect: &Expect) -> usize {
    let (messages, edits) = phase.messages_after();
    let mut wrong = Vec::new();
    for run in runs {
        for step in &run.steps {
            let want = match step.command {
                "/start" => expect.start,
                "/subscribe" => expect.subscribe,
                "/settings" => expect.settings,
                _ => expect.notice,
            };
            if !step.text.starts_with(want) {
                wrong.push(format!(
                    "trader {}: {} answered {:?}, expected {want:?}…",
                    run.trader, step.command, step.text
                ));
            }
        }
        let sent = telegram.sent_to(run.trader);
        let edited = telegram.edit_count(run.trader);
        if sent.len() != messages || edited != edits {
            wrong.push(format!(
                "trader {}: {} message(s) and {edited} edit(s), expected {messages} and {edits}",
                run.trader,
                sent.len()
            ));
        }
        if phase == Phase::Press
            && let Some(menu) = sent.last()
            && !menu.text.contains(expect.edited)
        {
            wrong.push(format!(
                "trader {}: the menu after the press reads {:?}, expected it to show {:?}",
                run.trader, menu.text, expect.edited
            ));
        }
    }
    for line in wrong.iter().take(5) {
        eprintln!("wrong: {line}");
    }
    wrong.len()
}

/// What the bot and the machine spent, read before and after a phase.
struct Usage {
    metrics: Option<Metrics>,
    bot_cpu: Option<f64>,
    own_cpu: Option<f64>,
    postgres_cpu: HashMap<String, f64>,
    nats_cpu: HashMap<String, f64>,
    /// The watcher's looks so far, and the time they took.
    watched: (u64, Duration),
}

impl Usage {
    async fn read(bot: Option<&Bot<'_>>, watcher: &Watcher) -> Self {
        let metrics = match bot {
            Some(bot) => Metrics::scrape(&bot.metrics_url).await.ok(),
            None => None,
        };
        Self {
            metrics,
            bot_cpu: bot.and_then(|b| cpu_seconds(&b.pid.to_string())),
            own_cpu: cpu_seconds("self"),
            postgres_cpu: cpu_of_named("postgres"),
            nats_cpu: cpu_of_named("nats-server"),
            watched: watcher.effort(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    phase: Phase,
    who: &str,
    args: &Args,
    runs: &[TraderRun],
    wrong: usize,
    herald: bool,
    before: &Usage,
    after: &Usage,
) {
    let steps: Vec<&Step> = runs.iter().flat_map(|r| &r.steps).collect();
    let commands = steps.len();
    let first = steps.iter().map(|s| s.sent).min();
    let last = steps.iter().map(|s| s.answered).max();
    let wall = match (first, last) {
        (Some(a), Some(b)) => b.duration_since(a).unwrap_or_default(),
        _ => Duration::ZERO,
    };
    let ms = |s: &&Step| {
        s.answered
            .duration_since(s.sent)
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0
    };
    let spread = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        format!(
            "p50 {:.1} ms, p90 {:.1}, p99 {:.1}, max {:.1}",
            quantile(&v, 0.5),
            quantile(&v, 0.9),
            quantile(&v, 0.99),
            v.last().copied().unwrap_or(f64::NAN)
        )
    };
    let mut by_command = Vec::new();
    for command in ["/start", "/subscribe", "/settings", "press"] {
        let of: Vec<f64> = steps
            .iter()
            .filter(|s| s.command == command)
            .map(ms)
            .collect();
        if !of.is_empty() {
            by_command.push(format!("{command} {}", spread(of)));
        }
    }
    let target = match phase {
        Phase::Subscribe => "target >= 3,000 commands/s, p99 <= 50 ms",
        Phase::Press => "target: 100,000 traders pressing at once survive; >= 3,000/s",
    };
    println!(
        "commands ({who}, {} traders, {} in flight{}), {}: {commands} commands in {:.2} s = {:.0} commands/s; update → answer {}; {} ({target})",
        args.traders,
        args.concurrency,
        if args.gap_ms > 0 {
            format!(
                ", {} ms between a trader's answer and its next command",
                args.gap_ms
            )
        } else {
            String::new()
        },
        phase.label(),
        wall.as_secs_f64(),
        commands as f64 / wall.as_secs_f64().max(f64::EPSILON),
        spread(steps.iter().map(ms).collect()),
        by_command.join("; "),
    );

    // Answers that followed another to the same chat within a second, and came a second
    // or more after it: held by the per-chat spacing.
    let close: Vec<&&Step> = steps
        .iter()
        .filter(|s| {
            s.previous.is_some_and(|p| {
                s.sent.duration_since(p).unwrap_or_default() < Duration::from_secs(1)
            })
        })
        .collect();
    let mut gaps: Vec<f64> = close
        .iter()
        .filter_map(|s| {
            let gap = s.answered.duration_since(s.previous?).ok()?;
            (gap >= Duration::from_secs(1)).then_some(gap.as_secs_f64() * 1000.0)
        })
        .collect();
    gaps.sort_by(f64::total_cmp);
    if herald && !gaps.is_empty() {
        println!(
            "per-chat spacing: {} of the {} answers asked for within 1 s of the previous answer to the same chat came 1 s or more after it (gap min {:.0} ms, p50 {:.0} ms): Herald spaces its sends and edits to one chat 1 s + 25 ms apart (Telegram's 1 message/s per chat; HERALD_TELEGRAM_RATE_LIMIT=0 does not lift it), which alone keeps {} traders in flight under {:.0} commands/s",
            gaps.len(),
            close.len(),
            gaps[0],
            quantile(&gaps, 0.5),
            args.concurrency,
            2.0 * args.concurrency as f64 / 1.025,
        );
    }
    // The menus' redraws after the presses (not part of the answer, and not counted above).
    let redrawn: Vec<f64> = steps
        .iter()
        .filter_map(|s| s.redrawn?.duration_since(s.sent).ok())
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    if !redrawn.is_empty() {
        let second = Duration::from_secs(1);
        let held = steps
            .iter()
            .filter(|s| match (s.previous, s.redrawn) {
                (Some(menu), Some(redrawn)) => {
                    s.sent.duration_since(menu).unwrap_or_default() < second
                        && redrawn.duration_since(menu).unwrap_or_default() >= second
                }
                _ => false,
            })
            .count();
        println!(
            "press → menu redrawn (its edit accepted by the double): {}; {held} of {} redraws came 1 s or more after the menu itself{}",
            spread(redrawn.clone()),
            redrawn.len(),
            if herald && held > 0 {
                " (Herald's per-chat spacing: an edit counts like a send)"
            } else {
                ""
            },
        );
    }

    let per_command = |b: Option<f64>, a: Option<f64>| match (b, a) {
        (Some(b), Some(a)) if commands > 0 => format!("{:.0}", (a - b) * 1e6 / commands as f64),
        _ => "?".into(),
    };
    let bot_cpu = match (before.bot_cpu, after.bot_cpu) {
        (Some(_), Some(_)) => format!("bot {} µs, ", per_command(before.bot_cpu, after.bot_cpu)),
        _ => String::new(),
    };
    let looks = after.watched.0 - before.watched.0;
    let looking = after.watched.1.saturating_sub(before.watched.1);
    println!(
        "CPU per command: {bot_cpu}this process (double and traders{}) {} µs, postgres (its processes alive at the end) {} µs, nats-server {} µs; the traders' watcher looked {looks} times, {:.0} µs each; answers checked: {}",
        if herald { "" } else { ", bot" },
        per_command(before.own_cpu, after.own_cpu),
        per_command(
            Some(0.0),
            Some(cpu_since(&before.postgres_cpu, &after.postgres_cpu))
        ),
        per_command(
            Some(0.0),
            Some(cpu_since(&before.nats_cpu, &after.nats_cpu))
        ),
        looking.as_secs_f64() * 1e6 / looks.max(1) as f64,
        if wrong == 0 {
            format!("{commands}/{commands} as expected")
        } else {
            format!("{wrong} missing or wrong")
        },
    );
    if let (Some(b), Some(a)) = (&before.metrics, &after.metrics) {
        let mut inside = Vec::new();
        for (label, name, key) in [
            ("", "herald_command_bot_command_duration_seconds", "command"),
            (
                "Telegram call ",
                "herald_telegram_request_duration_seconds",
                "method",
            ),
        ] {
            for (value, h) in a.histograms(name, key) {
                let h = h.minus(&b.histogram(name, key, &value));
                if h.count > 0.0 {
                    inside.push(format!("{label}{value} {}", h.describe()));
                }
            }
        }
        println!(
            "in the bot (its metrics; a command's time runs from taking the update to the answer sent, the wait for the chat's send slot included): {}",
            inside.join("; ")
        );
    }
}

/// CPU seconds so far of each process named `comm` (whoever runs it), by pid.
fn cpu_of_named(comm: &str) -> HashMap<String, f64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == comm)
        })
        .filter_map(|pid| Some((pid.clone(), cpu_seconds(&pid)?)))
        .collect()
}

/// The CPU seconds spent between two readings by the processes alive at the second (those
/// that ended in between are not counted: their time is gone from `/proc`).
fn cpu_since(before: &HashMap<String, f64>, after: &HashMap<String, f64>) -> f64 {
    after
        .iter()
        .map(|(pid, cpu)| cpu - before.get(pid).copied().unwrap_or(0.0))
        .sum()
}

/// One scrape of a Prometheus text page: (name, labels, value) per sample.
struct Metrics(Vec<Sample>);

/// `name{labels} value`.
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// One series of a histogram: cumulative bucket counts by upper bound, sum and count.
#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

impl Metrics {
    async fn scrape(url: &str) -> anyhow::Result<Self> {
        let text = reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let value: f64 = value.parse().ok()?;
                let (name, labels) = match series.split_once('{') {
                    Some((name, rest)) => (name, rest.trim_end_matches('}')),
                    None => (series, ""),
                };
                let labels = labels
                    .split(',')
                    .filter_map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        Some((k.to_string(), v.trim_matches('"').to_string()))
                    })
                    .collect();
                Some(Sample {
                    name: name.to_string(),
                    labels,
                    value,
                })
            })
            .collect();
        Ok(Self(samples))
    }

    /// Every series of histogram `name`, by the value of its label `key`.
    fn histograms(&self, name: &str, key: &str) -> Vec<(String, Histogram)> {
        let mut values: Vec<String> = self
            .0
            .iter()
            .filter(|s| s.name.strip_prefix(name) == Some("_count"))
            .filter_map(|s| label(&s.labels, key).map(str::to_string))
            .collect();
        values.sort();
        values.dedup();
        values
            .into_iter()
            .map(|v| {
                let h = self.histogram(name, key, &v);
                (v, h)
            })
            .collect()
    }

    fn histogram(&self, name: &str, key: &str, value: &str) -> Histogram {
        let mut h = Histogram::default();
        for Sample {
            name: n,
            labels,
            value: v,
        } in &self.0
        {
            if label(labels, key) != Some(value) {
                continue;
            }
            match n.strip_prefix(name) {
                Some("_sum") => h.sum = *v,
                Some("_count") => h.count = *v,
                Some("_bucket") => {
                    if let Some(le) = label(labels, "le").and_then(|le| le.parse().ok()) {
                        h.buckets.push((le, *v));
                    }
                }
                _ => {}
            }
        }
        h.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        h
    }
}

fn label<'a>(labels: &'a [(String, String)], key: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

impl Histogram {
    /// This one less an earlier scrape of the same series.
    fn minus(&self, earlier: &Histogram) -> Histogram {
        let before = |le: f64| {
            earlier
                .buckets
                .iter()
                .find(|(l, _)| *l == le)
                .map_or(0.0, |(_, c)| *c)
        };
        Histogram {
            buckets: self
                .buckets
                .iter()
                .map(|(le, c)| (*le, c - before(*le)))
                .collect(),
            sum: self.sum - earlier.sum,
            count: self.count - earlier.count,
        }
    }

    /// The bucket bound at or under which a share `q` of the samples fell.
    fn bound(&self, q: f64) -> String {
        self.buckets
            .iter()
            .find(|(_, c)| *c >= q * self.count)
            .map_or("?".into(), |(le, _)| {
                if le.is_infinite() {
                    "> 30 s".into()
                } else {
                    format!("<= {} ms", le * 1000.0)
                }
            })
    }

    fn describe(&self) -> String {
        format!(
            "×{:.0}, mean {:.1} ms, p50 {}, p99 {}",
            self.count,
            self.sum / self.count * 1000.0,
            self.bound(0.5),
            self.bound(0.99)
        )
    }
}

/// The baseline: teloxide's `Dispatcher` answering every message with a fixed text, and a
/// press with an edit and a notice — the same Telegram calls as Herald's answers, without the
/// database, the budget or anything else.
mod bare {
    use std::time::Duration;

    use herald_telegram::teloxide::dispatching::ShutdownToken;
    use herald_telegram::teloxide::prelude::*;
    use herald_telegram::teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
    use herald_telegram::teloxide::update_listeners::Polling;

    /// The answer to every message.
    pub const ANSWER: &str = "Answered.";
    /// The notice of every press.
    pub const NOTICE: &str = "Saved.";
    /// What a pressed message is edited into.
    pub const EDITED: &str = "Edited: Buy 🔕 silent";

    /// The running bare bot.
    pub struct BareBot {
        shutdown: ShutdownToken,
        task: tokio::task::JoinHandle<()>,
    }

    /// Starts the bot, long polling `api_url` as Herald does (10 s long polls).
    pub fn start(api_url: &str) -> anyhow::Result<BareBot> {
        let bot = Bot::new(crate::stack::TOKEN).set_api_url(reqwest::Url::parse(api_url)?);
        let handler = dptree::entry()
            .branch(Update::filter_message().endpoint(answer))
            .branch(Update::filter_callback_query().endpoint(press));
        let mut dispatcher = Dispatcher::builder(bot.clone(), handler).build();
        let shutdown = dispatcher.shutdown_token();
        let task = tokio::spawn(async move {
            let polling = Polling::builder(bot)
                .timeout(Duration::from_secs(10))
                .build();
            dispatcher
                .dispatch_with_listener(
                    polling,
                    LoggingErrorHandler::with_custom_text("bare bot: update listener"),
                )
                .await;
        });
        Ok(BareBot { shutdown, task })
    }

    impl BareBot {
        /// Stops dispatching (within 15 s, else the task is dropped).
        pub async fn stop(self) {
            let stopping = async {
                for _ in 0..100 {
                    if let Ok(done) = self.shutdown.shutdown() {
                        done.await;
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(15), stopping).await;
            self.task.abort();
            let _ = self.task.await;
        }
    }

    async fn answer(bot: Bot, msg: Message) -> ResponseResult<()> {
        let mut send = bot.send_message(msg.chat.id, ANSWER);
        if msg.text() == Some("/settings") {
            send = send.reply_markup(InlineKeyboardMarkup::new([[
                InlineKeyboardButton::callback(super::BUTTON, "buy"),
            ]]));
        }
        send.await?;
        Ok(())
    }

    async fn press(bot: Bot, q: CallbackQuery) -> ResponseResult<()> {
        if let Some(m) = &q.message {
            bot.edit_message_text(m.chat().id, m.id(), EDITED).await?;
        }
        bot.answer_callback_query(q.id).text(NOTICE).await?;
        Ok(())
    }
}
