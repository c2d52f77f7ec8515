-- POST one prebuilt body file on every request; count answers whose body matches a Lua pattern.
-- args: body_file content_type ok_pattern; env BENCH_AUTHORIZATION: the Authorization header, if any
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
checks_bodies = true

function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = args[2]
  add_authorization(wrk.headers)
  pattern = args[3]
  start_counters()
end

function response(status, headers, body)
  if status == 200 and body and body:find(pattern) then
    ok = ok + 1
  else
    count_bad(status, body)
  end
end
