-- One body per request from a pool: pool=PATH (one form-encoded body a line), header=..., expect=STATUS,
-- threads=N (wrk's -t). For grants whose secret is single use: refresh_token rotation, the code exchange.
-- A line "PROOF<TAB>BODY" sends PROOF as the request's DPoP header (RFC 9449: a proof is single use too).
-- Thread k of N takes lines k, k+N, k+2N … When its share runs out the thread stops and says so (exhausted=1):
-- the harness then discards the run and tries again with a bigger pool, since wrk divides by the full duration.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local bodies = {}
local next_body = 1
local headers

function init(args)
  local options = parse_args(args)
  expect = options.expect
  headers = options.headers
  local line_number = 0
  for line in io.lines(options.pool) do
    if line_number % options.threads == id - 1 then
      bodies[#bodies + 1] = line
    end
    line_number = line_number + 1
  end
end

function request()
  local body = bodies[next_body]
  if body == nil then
    if exhausted == 0 then
      exhausted = 1
      wrk.thread:stop()
    end
    body = bodies[#bodies] -- wrk still wants a request; its answer is not counted (see response below)
  end
  next_body = next_body + 1
  local proof, rest = body:match("^([^\t]*)\t(.*)$")
  if proof == nil then
    return wrk.format("POST", nil, headers, body)
  end
  local with_proof = {}
  for name, value in pairs(headers) do
    with_proof[name] = value
  end
  with_proof["DPoP"] = proof
  return wrk.format("POST", nil, with_proof, rest)
end

local count_response = response

function response(status, headers, body)
  if exhausted == 0 then
    count_response(status, headers, body)
  end
end
