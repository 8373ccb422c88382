-- wrk script: send one request per call, built from a plan that bench/load.py writes from the spec.
--
--   wrk -s bench/wrk/ingest.lua http://127.0.0.1:8000 -- PLAN_FILE RUN_ID
--
-- The plan's lines are METHOD, PATH, HEADER name: value (any number) and BODY. Each @@ID@@ in the
-- path, a header value or the body becomes RUN_ID-thread-counter, unique across runs and threads,
-- so every request is a new event. done() prints one line, "BENCH_JSON {...}", with the latency
-- percentiles and the status classes the responses had.

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
  table.insert(threads, thread)
end

local function read_plan(file)
  local plan = {method = "POST", path = "/", headers = {}, body = ""}
  for line in io.lines(file) do
    local kind, rest = line:match("^(%u+) (.*)$")
    if kind == "METHOD" then
      plan.method = rest
    elseif kind == "PATH" then
      plan.path = rest
    elseif kind == "HEADER" then
      local name, value = rest:match("^([^:]+): (.*)$")
      plan.headers[name] = value
    elseif kind == "BODY" then
      plan.body = rest
    end
  end
  return plan
end

local function fill(text, id)
  return (text:gsub("@@ID@@", id))
end

function init(args)
  plan = read_plan(args[1])
  run_id = args[2] or tostring(os.time())
  counter = 0
  ok = 0
  client_errors = 0
  server_errors = 0
  other = 0
  templated_headers = false
  for _, value in pairs(plan.headers) do
    if value:find("@@ID@@", 1, true) then
      templated_headers = true
    end
  end
end

function request()
  counter = counter + 1
  local id = run_id .. "-" .. thread_id .. "-" .. counter
  local headers = plan.headers
  if templated_headers then
    headers = {}
    for name, value in pairs(plan.headers) do
      headers[name] = fill(value, id)
    end
  end
  return wrk.format(plan.method, fill(plan.path, id), headers, fill(plan.body, id))
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
