-- wrk script: POST /v1/needs with a unique Idempotency-Key per request.
--   wrk -s post_need.lua http://127.0.0.1:PORT -- <bearer token> <key prefix> <community id>
-- The same body every time (a realistic need); the baseline ignores the headers.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

local token, prefix, body
local counter = 0

function init(args)
  token = args[1] or ""
  prefix = (args[2] or "bench") .. "-" .. tostring(thread_no or 0)
  local community = args[3] or "benchcity.s0.c0"
  body = '{"community_id":"' .. community .. '",'
    .. '"title":"为96岁独居老人购买年货 / New-Year goods for a 96-year-old",'
    .. '"description":"老人独自居住，行动不便，希望志愿者帮忙采购米、油、春联和一些年货，并陪老人聊聊天。'
    .. ' She lives alone and cannot get out: rice, oil, couplets and a chat.",'
    .. '"category":"elderly_care","kind":"wish","slots":2,'
    .. '"requester":{"name":"王阿姨","phone":"13800001234"},'
    .. '"beneficiaries":1,"location":{"lat":22.5431,"lon":114.0579},'
    .. '"skills":["elderly_care"]}'
end

function request()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = prefix .. "-" .. counter,
  }
  return wrk.format("POST", "/v1/needs", headers, body)
end
