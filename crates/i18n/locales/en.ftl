# Herald's messages in English. Every reply is Telegram HTML: escape what traders typed
# before passing it in. Prices, percentages and times arrive formatted.
# Every message here must exist in every other language, with the same arguments.

## The commands: one line for Telegram's command menu and /help, and a paragraph for
## /help <command>. Usage and examples are written in code (they are commands, not prose).

cmd-start = register and see how Herald works
cmd-start-help = Registers you, asks for your time zone and shows what to do next. Running it again is harmless: it shows where you stand.
cmd-help = list the commands, or explain one
cmd-help-help = Lists every command. Add a command's name to read about that one.
cmd-settings = change your preferences with buttons
cmd-settings-help = Opens one message with buttons for every preference: which signals you get and whether they make a sound, minimum confidence, assets, notification hours and time zone, what happens outside your hours, format, language, and performance reports (how often, at what time, with or without a sound). Every press is saved at once.
cmd-subscribe = receive trading signals
cmd-subscribe-help = Starts your signals. They arrive here as the models generate them, as your /settings and /filter choose.
cmd-unsubscribe = stop receiving trading signals
cmd-unsubscribe-help = Stops your signals. Your settings are kept for when you /subscribe again.
cmd-filter = set your filters in one line
cmd-filter-help = Sets several filters at once: <code>confidence:</code> 0-100, <code>types:</code> buy, sell, close, alert, <code>assets:</code> a list or all, <code>hours:</code> a window such as 08-22 in your time zone, or any, <code>format:</code> compact or detailed. Alone, it shows your filters; <code>/filter reset</code> goes back to the defaults.
cmd-signals = the latest signals
cmd-signals-help = Shows the latest signals your subscription includes, in compact form: 5 unless you give a count (at most 20).
cmd-status = system status and your subscription
cmd-status-help = Shows whether Herald's services are running, when the last signal came, how many messages are waiting to go out, and your subscription, tier and filters.
cmd-performance = performance statistics
cmd-performance-help = Shows how the signals you received did: how many, how many positions closed, wins and losses, win rate, average, median and summed returns, the best and the worst, by asset and by model. Over the last 7 days, or the period you give: 24h, 7d, 30d or all. Its buttons switch the period, switch between your signals and all signals, and refresh the figures.
cmd-language = choose your language
cmd-language-help = Shows the languages I speak, or switches to one directly.

## /help

help-intro = <b>Herald</b> sends you trading signals as they are generated. Commands:
help-line = { $usage } — { $description }
help-more = Send /help and a command's name for details, e.g. <code>/help filter</code>.
help-topic =
    <b>{ $usage }</b>
    { $help }
    Example: <code>{ $example }</code>
help-no-topic = There is no command “{ $name }”. Send /help for the list.

## Anything else

unknown-command = I don't know the command { $command }. /help lists what I can do.
unknown-text = I answer commands only. /help lists what I can do.
sorry = 😕 Something went wrong on our side. Please try again in a minute.
private-only = I take commands in a private chat only: open a chat with me and send /start there.
slow-down = ✋ That is a lot of commands in a short time. Please wait a minute; I'll answer again after that.

## /start

start-welcome-new = 👋 Welcome to Herald, { $name }! You are registered.
start-welcome-back = 👋 Welcome back, { $name }! You are already registered.
start-returned = You had blocked the bot, so your subscription was paused. Send /subscribe to resume your signals.
start-intro = Herald sends you intraday trading signals — buy, sell, close and market alerts — with entry, target and stop prices and the model's confidence.
start-disclaimer = ⚠️ Signals are information, not financial advice. Trading is risky: never risk money you cannot afford to lose.
start-zone-question = 🕒 Which time zone are you in? Tap one, or send its name (e.g. <code>Europe/Madrid</code>) or offset (e.g. <code>UTC+5</code>). Your notification hours follow it; until you choose, it is UTC.
start-state =
    { $subscribed ->
        [yes] ✅ You are subscribed.
       *[no] You are not subscribed yet.
    } Time zone: { $zone }. Language: { $language }.
start-next = Next: /subscribe to receive signals, /settings to choose which, /help for every command.
zone-set = 🕒 Time zone set to { $zone } (it is { $time } there now).

## /subscribe, /unsubscribe

subscribe-done = ✅ Subscribed! Signals arrive here as they are generated. /settings chooses which; /unsubscribe stops them.
subscribe-done-until = ✅ Subscribed until { $until }! Signals arrive here as they are generated. /settings chooses which; /unsubscribe stops them.
subscribe-already = You are already subscribed. /unsubscribe stops your signals.
unsubscribe-done = 🔕 Unsubscribed. No more signals; your settings are kept. /subscribe brings them back.
unsubscribe-already = You are not subscribed. /subscribe starts your signals.

## Values shown in menus and summaries

kind-buy = Buy
kind-sell = Sell
kind-close = Close
kind-alert = Alert
mode-on = 🔔 on
mode-silent = 🔕 silent
mode-off = ⛔ off
value-all-assets = all
value-any-time = any time
value-hours = { $window } ({ $zone })
value-none = none
format-detailed = detailed
format-compact = compact
outside-silent = delivered silently
outside-skip = skipped
reports-off = off
reports-daily = daily
reports-weekly = weekly
reports-at-daily = daily at { $time }
reports-at-weekly = weekly, Mondays at { $time }

## /filter

filter-current =
    <b>Your filters</b>
    Types: { $types }
    Minimum confidence: { $confidence }%
    Assets: { $assets }
    Hours: { $hours }
    Format: { $format }
filter-usage = Change them with e.g. <code>{ $example }</code>, or go back to the defaults with <code>/filter reset</code>.
filter-saved = ✅ Filters saved.
filter-reset = ✅ Filters back to the defaults.
filter-error =
    ❌ “{ $token }”: { $problem }.
    Example: <code>{ $example }</code>
filter-problem-syntax = a filter is written key:value, with the keys confidence, types, assets, hours and format
filter-problem-unknown-key = there is no such filter; the filters are confidence, types, assets, hours and format
filter-problem-confidence = confidence is a whole number from 0 to 100
filter-problem-types = the types are buy, sell, close and alert, separated by commas
filter-problem-assets = assets are written like BTC/USD or AAPL, separated by commas, or all
filter-problem-too-many-assets = you can follow at most { $max } assets by name
filter-problem-hours = hours are a window of two different hours from 0 to 23, such as 08-22 or 22-06, or any
filter-problem-format = the format is compact or detailed

## /signals

signals-title =
    { $count ->
        [one] 🗂 The latest signal:
       *[other] 🗂 The latest { $count } signals:
    }
signals-item =
    { $signal }
    <i>{ $when }</i>
signals-none = No signals yet. They will show up here once the models send some.
signals-usage = Usage: <code>/signals [count]</code>, with a count from 1 to 20, e.g. <code>/signals 10</code>.

## /status

status-title = 📡 <b>Herald status</b>
service-ingest-api = Signal intake
service-dispatcher = Delivery
service-command-bot = Chat bot
status-service-up = ✅ { $service }: running
status-service-down = ❌ { $service }: not running
status-last-signal = Last signal: { $when }
status-no-signal = Last signal: none yet
status-waiting = Messages waiting to go out: { $count }
status-you = <b>You</b>
status-subscribed = Subscription: ✅ active
status-subscribed-until = Subscription: ✅ active until { $until }
status-not-subscribed = Subscription: not active (/subscribe starts it)
status-tier = Tier: { $tier }
status-filters = Filters: { $types } · from { $confidence }% · assets: { $assets } · hours: { $hours }
status-checked = Checked at { $time }.

## /performance

perf-usage = I don't know the period “{ $period }”. Pick one of 24h, 7d, 30d or all, e.g. <code>/performance 30d</code>.
perf-button-24h = 24h
perf-button-7d = 7d
perf-button-30d = 30d
perf-button-all = All
perf-button-mine = 👤 Mine
perf-button-everyone = 👥 All signals

## /language

language-pick = 🌐 Pick your language:
language-set = ✅ I'll speak English from now on.
language-unknown = I don't speak “{ $code }” yet. I speak: { $available }.

## /settings

settings-title = ⚙️ <b>Your settings</b>
settings-kinds = Signals: { $kinds }
settings-confidence = Minimum confidence: { $confidence }%
settings-assets = Assets: { $assets }
settings-hours = Notification hours: { $hours }
settings-outside = Outside your hours: { $outside }
settings-zone = Time zone: { $zone }
settings-format = Format: { $format }
settings-language = Language: { $language }
settings-reports = Performance reports: { $reports } ({ $sound })
settings-hint = Tap a button to change it; every change is saved at once.
settings-pick-confidence = Pick the lowest confidence you want:
settings-pick-hours = Pick when you want notifications, in your time ({ $zone }), or send e.g. <code>/filter hours:08-22</code> for any window:
settings-pick-zone = Pick your time zone, or send its name (e.g. <code>Asia/Tokyo</code>) or offset (e.g. <code>UTC+5</code>):
settings-pick-assets = Tap the assets you want (none ticked means all), or send e.g. <code>/filter assets:BTC/USD,ETH/USD</code>:
settings-pick-reports = Pick how often performance reports come, and at what time in your time zone ({ $zone }). Weekly reports come on Mondays.
settings-saved = Saved.

## Buttons

button-kind = { $kind }: { $mode }
button-confidence = Confidence: { $confidence }%
button-assets = Assets: { $assets }
button-hours = Hours: { $hours }
button-outside = Outside hours: { $outside }
button-zone = Time zone: { $zone }
button-format = Format: { $format }
button-language = Language: { $language }
button-reports = Reports: { $reports }
button-reports-sound = Report sound: { $mode }
button-reports-off = Off
button-reports-daily = Daily
button-reports-weekly = Weekly
button-any-time = Any time
button-all-assets = All assets
button-back = « Back
button-refresh = 🔄 Refresh
button-got-it = ✅ Got it
button-stale = This button is no longer valid.
menu-stale = This menu was out of date: here it is as it stands now.
read-marked = Marked as read.
read-already = Already marked as read.

## Signal messages (the spec's layout; prices and times are not translated)

signal-trading-signal = TRADING SIGNAL
signal-close-signal = CLOSE SIGNAL
signal-market-alert = MARKET ALERT
signal-buy = BUY
signal-sell = SELL
signal-close = CLOSE
signal-alert = ALERT
signal-details = Signal Details
signal-alert-details = Alert Details
signal-direction = Direction
signal-asset = Asset
signal-entry-price = Entry Price
signal-target-price = Target Price
signal-stop-loss = Stop Loss
signal-timeframe = Timeframe
signal-action = Action
signal-close-position = Close position
signal-exit-price = Exit Price
signal-closes-signal = Closes Signal
signal-confidence = Signal Confidence
signal-model = Model
signal-performance = Performance
signal-generated = Signal Generated
signal-market-context = Market Context
signal-notes = Notes
signal-one-more-note = 1 more note
signal-more-notes = { $n } more notes

## Admin login (admin-api sends these to a staff member's private chat)
admin-login-code = 🔐 Your Herald admin login code: <b>{ $code }</b>
    It works once, for { $minutes ->
        [one] 1 minute
       *[other] { $minutes } minutes
    }. Enter it with the code from your authenticator app.
    If you did not try to log in, do not share it, and tell your team: someone knows your Telegram id and tried to sign in as you.
admin-login-no-authenticator = 🔐 Someone tried to log in to the Herald admin API as you, but you have no authenticator enrolled, so no code was sent. If it was you, ask an operator to run: herald admin totp-enroll --telegram-id { $telegram_id }

## Performance figures (/performance). Returns, rates and times arrive formatted
## (`+3.00%`, `66.7%`, `2026-11-30 14:05 UTC`); the kinds come from kind-*.

perf-title = 📊 <b>Performance</b> · { $scope } · { $window }
perf-scope-mine = your signals
perf-scope-all = all signals
perf-window-24h = last 24 hours
perf-window-7d = last 7 days
perf-window-30d = last 30 days
perf-window-all = all time
perf-no-signals = No signals in this period yet.
perf-signals =
    { $count ->
        [one] 📨 1 signal
       *[other] 📨 { $count } signals
    }: { $kinds }
perf-positions =
    { $count ->
        [one] 📂 1 position
       *[other] 📂 { $count } positions
    } (buys and sells): { $closed } closed · { $open } open
perf-not-enough = ⏳ No position has closed in this period yet, so there are no returns to show.
perf-no-returns = ⏳ No position that closed in this period has a known exit price yet, so there are no returns to show.
perf-outcomes = ✅ { $wins } won · ❌ { $losses } lost · ⏹ { $flat } flat
perf-win-rate = 🎯 Win rate: { $rate } ({ $wins } of { $count })
perf-returns = 📈 Average return: { $average } · median { $median }
perf-total = ➕ Sum of returns: { $total }
perf-best = 🏆 Best: { $asset } { $return }
perf-worst = 📉 Worst: { $asset } { $return }
perf-by-asset = <b>By asset</b>
perf-asset =
    • { $asset }: { $count ->
        [one] 1 signal
       *[other] { $count } signals
    }
perf-more-assets =
    { $count ->
        [one] … and 1 more asset
       *[other] … and { $count } more assets
    }
perf-by-model = <b>By model</b>
perf-model =
    • { $model }: { $count ->
        [one] 1 signal
       *[other] { $count } signals
    }, { $closed } closed · win rate { $rate } · average { $average }
perf-model-open =
    • { $model }: { $count ->
        [one] 1 signal
       *[other] { $count } signals
    }, { $closed } closed
perf-model-unnamed = <i>unnamed</i>
perf-more-models =
    { $count ->
        [one] … and 1 more model
       *[other] … and { $count } more models
    }
perf-footer = <i>As of { $time }. Returns run from entry to exit price, before fees; the sum adds them up without compounding. Past results do not guarantee future ones.</i>

## Performance reports: the caption of the chart (the running sum of returns)

report-title = 📊 <b>Performance report</b> · { $window }
report-closed =
    { $count ->
        [one] 1 position closed
       *[other] { $count } positions closed
    }: ✅ { $wins } · ❌ { $losses } · ⏹ { $flat }
report-returns = 📈 Sum of returns: { $total } · average { $average }
report-not-enough =
    ⏳ No position closed with a known return in this period. { $count ->
        [one] 1 signal was sent.
       *[other] { $count } signals were sent.
    }
report-chart = <i>Chart: the running sum of returns, position by position.</i>

## A position's outcome, added to its signal's message when it ends
## (`✅ Long closed at $43,260.5 · +3.00% · target hit · open 2 h 15 min`).
## $side is the position's signal kind: buy, sell (or anything else: no side).

outcome-closed-at =
    { $side ->
        [buy] Long closed at { $price }
        [sell] Short closed at { $price }
       *[other] Closed at { $price }
    }
outcome-closed =
    { $side ->
        [buy] Long closed
        [sell] Short closed
       *[other] Closed
    }
outcome-reason-target = target hit
outcome-reason-stop = stop loss hit
outcome-reason-manual = closed manually
outcome-reason-expired = expired
outcome-open-for = open { $duration }
