-- deleteImage with a distinct id on every request: thread k of n takes lines k, k+n, k+2n ...
-- of the ids file. Once its ids run out it asks for an id that does not exist (counted apart).
-- args: ids_file thread_count; env BENCH_AUTHORIZATION: the Authorization header, if any
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
checks_bodies = true

local MISSING = "AAAAAAAAAAAAAAAAAAAAAA"

function init(args)
  local threads = tonumber(args[2])
  ids = {}
  local line_number = 0
  for line in io.lines(args[1]) do
    if line ~= "" then
      if line_number % threads == id then table.insert(ids, line) end
      line_number = line_number + 1
    end
  end
  position = 0
  headers = add_authorization({["Content-Type"] = "application/json"})
  start_counters()
end

function request()
  position = position + 1
  local image_id = ids[position] or MISSING
  return wrk.format("POST", "/graphql", headers,
    '{"query":"mutation($id: ID!) { deleteImage(id: $id) { __typename } }","variables":{"id":"' ..
    image_id .. '"}}')
end

function response(status, headers, body)
  if status == 200 and body and body:find('"DeletedImage"', 1, true) then
    ok = ok + 1
  elseif status == 200 and body and body:find('"ImageNotFound"', 1, true) then
    not_found = not_found + 1
  else
    count_bad(status, body)
  end
end
