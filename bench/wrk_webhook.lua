-- Unique webhook bodies (so nothing is a duplicate), optionally at a fixed rate.
-- RATE (env): requests per second over all threads (0: as fast as the connections go).
-- THREADS (env): wrk's -t, to split the rate. Each thread hands out send times RATE/THREADS
-- apart to whichever of its connections is free; a connection waits for its turn (the wait
-- is not counted as latency). Should responses fall behind, the achieved rate is lower and
-- wrk's Requests/sec says so.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } sb_timespec;
int clock_gettime(int clk_id, sb_timespec *tp);
]]
local ts = ffi.new("sb_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local counter = 0
local thread_id = 0
local threads = {}
local rate = tonumber(os.getenv("RATE") or "0")
local interval_ms = 0
local next_ms = nil
local run = os.getenv("RUN_ID") or "r"

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  if rate > 0 then
    interval_ms = 1000 * tonumber(os.getenv("THREADS") or "1") / rate
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Bench-Token"] = "bench-token-0123456789"
end

function request()
  counter = counter + 1
  local body = string.format('{"id":"%s-%d-%d","from":"+2557%08d","text":"reading %d"}',
    run, thread_id, counter, counter % 5000, counter)
  return wrk.format(nil, "/webhooks/bench", nil, body)
end

function delay()
  if interval_ms == 0 then
    return 0
  end
  local now = now_ms()
  if next_ms == nil or next_ms < now - interval_ms then
    next_ms = now -- start, or catch up after falling behind (no burst to make up for it)
  else
    next_ms = next_ms + interval_ms
  end
  return math.max(0, math.floor(next_ms - now + 0.5))
end
