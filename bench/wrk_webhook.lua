-- Unique webhook bodies (so nothing is a duplicate), optionally paced to a fixed rate.
-- RATE_DELAY_MS (env): the delay each connection waits between requests.
local counter = 0
local thread_id = 0
local threads = {}
local delay_ms = tonumber(os.getenv("RATE_DELAY_MS") or "0")
local run = os.getenv("RUN_ID") or "r"

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
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
  return delay_ms
end
