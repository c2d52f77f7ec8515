-- GET paths from a file (one a line) in turn; each thread starts at a different place.
-- args: paths_file
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
checks_bodies = false

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    if line ~= "" then table.insert(paths, line) end
  end
  position = (id * 7919) % #paths
  start_counters()
end

function request()
  position = position % #paths + 1
  return wrk.format("GET", paths[position])
end
