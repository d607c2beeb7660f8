-- server_wrk.lua - the wrk script of bench/server_bench.sh.
--
-- CLB_BODY set: every request is a POST of that JSON body (an agent's
-- /v1/validate or /v1/key call).  corelockerd echoes the nonce and keeps no
-- nonce history, so one fixed body is a faithful request; a fresh nonce per
-- request would only add Lua work to the client.  CLB_BODY unset: GET (the
-- static files served by nginx).
--
-- done() prints one line for the script to parse (microseconds, counts):
--   CLBENCH requests=N duration_us=N bytes=N p50_us=N p90_us=N p99_us=N
--           max_us=N non2xx=N connect=N read=N write=N timeout=N
-- non2xx is wrk's count of answers with a status of 400 or more; the bench
-- script fails the run unless it is 0 (corelockerd's /metrics then confirms
-- that every answer was a 200).

local body = os.getenv("CLB_BODY")
if body and body ~= "" then
	wrk.method = "POST"
	wrk.body = body
	wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"CLBENCH requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
		"non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
		summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
