-- One request kind for wrk: method, JSON body and token come from the environment, so one script serves every kind.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.headers["x-api-token"] = os.getenv("BENCH_TOKEN") or "bench-token"
local body = os.getenv("BENCH_BODY") or ""
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
