-- Shared by the bench's wrk scripts: thread bookkeeping and a done() that prints one JSON line.
-- Each thread keeps its own counters (ok, bad, and any named in `extra_counters`); done() runs in
-- the main Lua state and sums them through the thread objects saved by setup().

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function start_counters()
  ok = 0
  bad = 0
  not_found = 0
  sample = ""
end

-- The server's Authorization header (e.g. "Bearer <token>"), from the environment the runner
-- gives wrk; a server without accounts gets none.
function add_authorization(headers)
  local value = os.getenv("BENCH_AUTHORIZATION")
  if value and value ~= "" then headers["Authorization"] = value end
  return headers
end

-- A response the script did not expect: counted, and the first one kept as a sample.
function count_bad(status, body)
  bad = bad + 1
  if sample == "" then sample = status .. " " .. (body or ""):sub(1, 300) end
end

local function count(name)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get(name) or 0)
  end
  return total
end

function done(summary, latency, requests)
  local sample = ""
  for _, thread in ipairs(threads) do
    local s = thread:get("sample")
    if s and s ~= "" then sample = s break end
  end
  io.write(string.format(
    'BENCH-JSON {"requests":%d,"duration_us":%d,"bytes_read":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p95":%d,"p99":%d,"max":%d,"mean":%.1f},' ..
    '"ok":%d,"bad":%d,"not_found":%d,"checked":%s}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean,
    count("ok"), count("bad"), count("not_found"), tostring(checks_bodies == true)))
  -- The first unexpected answer, raw, for the runner to show (not JSON-escaped).
  io.write("BENCH-SAMPLE " .. sample:gsub("\n", " ") .. "\n")
end
