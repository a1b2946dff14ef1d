-- wrk script for the scan benchmark: walks the stamp paths in the file named
-- by $PATHS (one per line), one request each, and counts 2xx answers (and
-- 500s, 503s, 503s without Retry-After, other statuses and socket errors,
-- for scripts/faults).
-- Each wrk thread runs its own copy; done() adds up the threads' counts.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end
  -- $START: where in the file to begin (a load run in several parts).
  i = tonumber(os.getenv("START") or "0") % #paths
  ok, s500, s503, bare, other = 0, 0, 0, 0, 0
end

-- $DELAY_MS: each connection waits this long before each request, so that
-- connections / (delay + latency) paces the load (scripts/faults soak).
if os.getenv("DELAY_MS") then
  local ms = tonumber(os.getenv("DELAY_MS"))
  function delay() return ms end
end

function request()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end

-- $COUNT_3XX: redirects count as answered (scripts/bench-resolver).
local top = os.getenv("COUNT_3XX") and 400 or 300

function response(status, headers, body)
  if status >= 200 and status < top then ok = ok + 1
  elseif status == 500 then s500 = s500 + 1
  elseif status == 503 then
    s503 = s503 + 1
    if headers["Retry-After"] == nil and headers["retry-after"] == nil then bare = bare + 1 end
  else other = other + 1 end
end

function done(summary, latency, requests)
  local total, t500, t503, tbare, tother = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    total = total + t:get("ok")
    t500 = t500 + t:get("s500")
    t503 = t503 + t:get("s503")
    tother = tother + t:get("other")
    tbare = tbare + t:get("bare")
  end
  io.write(string.format("ok2xx=%d rps=%.1f p99ms=%.2f s500=%d s503=%d other=%d errors=%d maxms=%.1f bare503=%d\n",
    total, total / (summary.duration / 1e6), latency:percentile(99) / 1000, t500, t503, tother,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency.max / 1000, tbare))
end
