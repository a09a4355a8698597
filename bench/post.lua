-- wrk: POST the envelope in ENVELOPE_FILE, as the Functions host would (Content-Length framing).
local f = assert(io.open(os.getenv("ENVELOPE_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json; charset=utf-8"
wrk.headers["X-Azure-Functions-InvocationId"] = "b5c4a7e0-0000-4000-8000-000000000000"
