-- wrk script: GET one path with a bearer token, again and again (the listers of bench/lists.py).
--   wrk -s get.lua http://127.0.0.1:PORT -- <bearer token> <path with query>

local token, path

function init(args)
  token = args[1] or ""
  path = args[2] or "/"
end

function request()
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end
