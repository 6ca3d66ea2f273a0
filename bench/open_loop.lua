-- An open loop at a fixed rate for wrk (bench/edge.py runs it; see its docstring).
--
--   wrk -t N -c N -d <s + 2>s -s bench/open_loop.lua <url> -- <rate> <N> <s>
--
-- One connection per wrk thread, so that each Lua state (one per thread) knows which
-- request a response answers. Thread i of N sends its k-th request at
--   due = start + (i + k * N) / rate
-- (the N connections together: one request every 1/rate seconds), for <s> seconds: then
-- the connections idle until wrk stops (give wrk's -d a second or two more, for the last
-- responses to come in). A connection still
-- waiting for a response when its next request is due sends it as soon as the response
-- is in, and that request's latency still counts from its due time: a stalled server is
-- charged for every request it held up (no coordinated omission).
--
-- wrk's delay() is in whole milliseconds, so a request may leave up to 1 ms before its
-- due time; its latency then counts from when it left. Latency = response complete
-- - min(due, sent). Times: CLOCK_MONOTONIC through LuaJIT's FFI.
--
-- done() prints one line: "open-loop-json {...}" with every latency (µs), the number of
-- requests sent, of those sent more than 1 ms after their due time, and the non-2xx/3xx
-- count.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bw_timespec;
int clock_gettime(int clk_id, bw_timespec *tp);
]]
local ts = ffi.new("bw_timespec")

local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

-- main state: hand each thread its index and the common start ------------------------------

local threads = {}
local start_at = nil

function setup(thread)
  if start_at == nil then
    start_at = now_us() + 200000 -- every thread is up by then
  end
  thread:set("index", #threads)
  thread:set("start", start_at)
  table.insert(threads, thread)
end

-- thread states ------------------------------------------------------------------------------

local n_threads, rate, period, first, last
local due, sent = 0, 0
local req
lat = {}
late = 0
bad = 0
k = 0

function init(args)
  rate = tonumber(args[1])
  n_threads = tonumber(args[2])
  local seconds = tonumber(args[3])
  if rate == nil or n_threads == nil or seconds == nil or rate <= 0 then
    error("open_loop.lua: arguments are <rate> <threads> <seconds>")
  end
  period = n_threads / rate * 1e6
  first = start + index / rate * 1e6
  last = start + seconds * 1e6
  req = wrk.format(nil)
end

-- The slot is claimed in delay(), which wrk calls before each request of a connection
-- (and only then: wrk also calls request() once at start, to check it).
function delay()
  local next_due = first + k * period
  if next_due >= last then
    return 3600000 -- done: idle until wrk stops
  end
  due = next_due
  k = k + 1
  local wait_ms = (next_due - now_us()) / 1000
  if wait_ms < 1 then
    return 0
  end
  return math.floor(wait_ms)
end

function request()
  sent = now_us()
  if due > 0 and sent - due > 1000 then
    late = late + 1
  end
  return req
end

function response(status, headers, body)
  local t = now_us()
  local from = due
  if sent < from then
    from = sent
  end
  lat[#lat + 1] = math.floor(t - from + 0.5)
  if status > 399 then
    bad = bad + 1
  end
end

-- main state again -------------------------------------------------------------------------

function done(summary, latency, requests)
  local all, n_late, n_bad, n_sent = {}, 0, 0, 0
  for _, thread in ipairs(threads) do
    for _, v in ipairs(thread:get("lat")) do
      all[#all + 1] = v
    end
    n_late = n_late + thread:get("late")
    n_bad = n_bad + thread:get("bad")
    n_sent = n_sent + thread:get("k")
  end
  io.write(string.format(
    'open-loop-json {"sent": %d, "late": %d, "non_2xx": %d, "latencies_us": [%s]}\n',
    n_sent, n_late, n_bad, table.concat(all, ",")))
end
