-- wrk script for POST /api/signals: every request carries a valid signal with a fresh id (so
-- JetStream stores each one instead of dropping it as a duplicate) and the API key from the
-- environment variable HERALD_KEY (unset for the bare handler, which checks none).
--
--   HERALD_KEY=hk_… wrk -t2 -c64 -d10s --latency -s bench/wrk/signal.lua http://127.0.0.1:8080/api/signals

local key = os.getenv("HERALD_KEY")
local counter = 0

function setup(thread)
  -- Each wrk thread gets its own tag so ids never collide between threads.
  thread:set("thread_tag", string.format("8%03x", math.random(0, 0xfff)))
end

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  -- `thread_tag` is the global setup() gave this thread (run without setup: make one).
  thread_tag = thread_tag or string.format("8%03x", math.random(0, 0xfff))
end

local headers = { ["Content-Type"] = "application/json" }
if key and key ~= "" then
  headers["X-API-Key"] = key
end

function request()
  counter = counter + 1
  local id = string.format("%08x-%04x-4%03x-8%03x-%012x",
    math.random(0, 0x7fffffff), math.random(0, 0xffff), math.random(0, 0xfff),
    math.random(0, 0xfff), counter)
  id = id:sub(1, 19) .. thread_tag .. id:sub(24)
  local body = string.format(
    '{"id":"%s","kind":"buy","asset":"BTC/USD","entry_price":"45250","target_price":"46500",' ..
    '"stop_loss":"44500","timeframe":"1H","confidence":85,"generated_at":"%s",' ..
    '"source_model":"wrk","notes":["Strong bullish momentum detected",' ..
    '"Breaking above key resistance level"]}',
    id, os.date("!%Y-%m-%dT%H:%M:%SZ"))
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("wrk-summary requests=%d errors_status=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    summary.requests, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
