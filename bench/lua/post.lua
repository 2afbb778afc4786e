-- The same POST for every request: body=PATH (a file with the exact body), header=..., expect=STATUS.
-- For client_credentials, introspection, the protected API and the password login.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local prepared

function init(args)
  local options = parse_args(args)
  expect = options.expect
  prepared = wrk.format("POST", nil, options.headers, read_file(options.body))
end

function request()
  return prepared
end
