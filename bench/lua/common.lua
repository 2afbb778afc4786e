-- Shared by bench/lua/*.lua: script arguments, and a count of responses whose status is not the expected one.
--
-- Arguments (after `--` on wrk's command line) are key=value words; `header=Name: value` may be repeated:
--   expect=200         the status every response should have (303 for a login)
--   threads=1          wrk's -t, so that each thread takes its share of a pool
--   header=...         a request header
-- done() prints one line the harness parses:
--   BENCH unexpected=N exhausted=N sample=<status and start of the first unexpected body>

local threads = {}

function parse_args(args)
  local options = { expect = 200, threads = 1, headers = {} }
  for _, word in ipairs(args) do
    local key, value = word:match("^([%w_]+)=(.*)$")
    if key == nil then
      error("bench: argument " .. word .. " is not key=value")
    elseif key == "header" then
      local name, header_value = value:match("^([^:]+):%s*(.*)$")
      options.headers[name] = header_value
    elseif key == "expect" or key == "threads" then
      options[key] = tonumber(value)
    else
      options[key] = value
    end
  end
  return options
end

function read_file(path)
  local file = assert(io.open(path, "rb"))
  local content = file:read("*a")
  file:close()
  return content
end

-- Runs in the main Lua state once per thread, before the thread starts.
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

unexpected = 0
exhausted = 0
sample = ""
expect = 200

function response(status, headers, body)
  if status ~= expect then
    unexpected = unexpected + 1
    if sample == "" then
      sample = tostring(status) .. " " .. (body or ""):sub(1, 160):gsub("%s+", " ")
    end
  end
end

function done(summary, latency, requests)
  local total_unexpected, total_exhausted, first_sample = 0, 0, ""
  for _, thread in ipairs(threads) do
    total_unexpected = total_unexpected + (thread:get("unexpected") or 0)
    total_exhausted = total_exhausted + (thread:get("exhausted") or 0)
    if first_sample == "" then
      first_sample = thread:get("sample") or ""
    end
  end
  io.write(string.format("BENCH unexpected=%d exhausted=%d sample=%s\n", total_unexpected, total_exhausted, first_sample))
end
