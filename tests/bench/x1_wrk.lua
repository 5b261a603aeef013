-- wrk script for SPEC X1 (tests/bench/bench_routes.py).
--
--   wrk -c16 -t2 -d10s --latency -s x1_wrk.lua http://127.0.0.1:8069 -- PATHS_FILE
--
-- PATHS_FILE holds one request path per line; each wrk thread walks the list
-- from its own starting point (far from the others') and starts over at the
-- end, so many tokens are hit (no single hot row) unless the file has one line. Every response status
-- is counted and, at the end, one line "X1JSON {...}" sums up the run:
-- responses, requests written, errors, latency percentiles (microseconds) and
-- the count per status.

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   local paths = {}
   for line in io.lines(args[1]) do
      if #line > 0 then
         paths[#paths + 1] = line
      end
   end
   assert(#paths > 0, "no path in " .. tostring(args[1]))
   reqs = {}
   for k = 1, #paths do
      -- a person's mail client: machines are classified apart (A1)
      reqs[k] = wrk.format("GET", paths[k], {["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Thunderbird/128.3.0"})
   end
   n = #reqs
   -- threads start far apart (golden ratio): two hit the same token at the same time
   -- only when the list is short (a first open of one recipient twice at once is R4's
   -- business: bench_routes.py checks it apart)
   pos = math.floor(tid * n * 0.6180339887) % n
   sent = 0
   statuses = {}
end

function request()
   pos = pos % n + 1
   sent = sent + 1
   return reqs[pos]
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
   local agg, sent_total = {}, 0
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         agg[status] = (agg[status] or 0) + count
      end
      sent_total = sent_total + thread:get("sent")
   end
   local parts = {}
   for status, count in pairs(agg) do
      parts[#parts + 1] = string.format('"%s": %d', status, count)
   end
   local e = summary.errors
   io.write(string.format(
      'X1JSON {"responses": %d, "sent": %d, "duration_us": %d, "bytes": %d, '
         .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
         .. '"latency_us": {"mean": %.1f, "stdev": %.1f, "max": %d, "p50": %d, "p75": %d, "p90": %d, "p99": %d}, '
         .. '"statuses": {%s}}\n',
      summary.requests, sent_total, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.stdev, latency.max,
      latency:percentile(50), latency:percentile(75), latency:percentile(90), latency:percentile(99),
      table.concat(parts, ", ")))
end
