-- One request kind for wrk: method, JSON body and token come from the environment, so one script serves every kind.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.headers["x-api-token"] = os.getenv("BENCH_TOKEN") or "bench-token"
local body = os.getenv("BENCH_BODY") or ""
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
-- Extra headers, one "name: value" per line.
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then
    wrk.headers[name] = value
  end
end
