-- wrk script for the scan benchmark: walks the stamp paths in the file named
-- by $PATHS (one per line), one request each, and counts 2xx answers.
-- Each wrk thread runs its own copy; done() adds up the threads' counts.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end
  i = 0
  ok = 0
end

function request()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("ok") end
  io.write(string.format("ok2xx=%d rps=%.1f p99ms=%.2f\n", total, total / (summary.duration / 1e6), latency:percentile(99) / 1000))
end
