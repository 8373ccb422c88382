-- wrk script: POST one realistic, valid event per request to an ingest endpoint.
--
--   wrk -s bench/wrk/ingest.lua http://127.0.0.1:8000/events -- sendrealm RUN_ID
--
-- The first argument picks the body (arsel, sendrealm, bare); the second makes Sendrealm's
-- idempotency keys unique across runs, and the thread id plus a counter makes them unique within
-- one, so every request is a new event. done() prints one line, "BENCH_JSON {...}", with the
-- latency percentiles and the status classes the responses had.

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
  table.insert(threads, thread)
end

local bodies = {}

bodies.arsel = function(n)
  return string.format(
    '{"event":"order.completed","email":"john.doe+%d@example.com",' ..
    '"data":{"order_id":"A-%d","total":149.99,"currency":"EUR"},' ..
    '"timestamp":"2026-06-01T12:00:00.000Z"}', n, n)
end

bodies.sendrealm = function(n)
  return string.format(
    '{"event":"order.completed","contact_id":"c671f89b-3ec1-4c58-9ad2-4ef8c2917cda",' ..
    '"payload":{"order_id":"ord_%d","total":4900,"currency":"EUR"},' ..
    '"occurred_at":"2026-06-08T14:15:00.000Z","idempotency_key":"bench-%s-%d-%d"}',
    n, run_id, thread_id, n)
end

bodies.bare = bodies.sendrealm

function init(args)
  api = args[1] or "sendrealm"
  run_id = args[2] or tostring(os.time())
  build = bodies[api]
  counter = 0
  ok = 0
  client_errors = 0
  server_errors = 0
  other = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer be_acme_test_key"
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, build(counter))
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  elseif status >= 400 and status < 500 then
    client_errors = client_errors + 1
  elseif status >= 500 then
    server_errors = server_errors + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local totals = {ok = 0, client_errors = 0, server_errors = 0, other = 0, sent = 0}
  for _, thread in ipairs(threads) do
    totals.ok = totals.ok + thread:get("ok")
    totals.client_errors = totals.client_errors + thread:get("client_errors")
    totals.server_errors = totals.server_errors + thread:get("server_errors")
    totals.other = totals.other + thread:get("other")
    totals.sent = totals.sent + thread:get("counter")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"ok":%d,"client_errors":%d,"server_errors":%d,"other":%d,"sent":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
    summary.duration, summary.requests, summary.bytes,
    totals.ok, totals.client_errors, totals.server_errors, totals.other, totals.sent,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
