-- wrk script: POST a new message per request, round-robin over the conversations in
-- BENCH_CONVERSATIONS ("1,2,3"), each with a client_msg_id no run has used (BENCH_NONCE).
local token = os.getenv("BENCH_TOKEN")
local nonce = os.getenv("BENCH_NONCE")
local ids = {}
for id in string.gmatch(os.getenv("BENCH_CONVERSATIONS"), "%d+") do ids[#ids + 1] = id end
local n = 0
local counter = 0

setup = function(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

request = function()
  n = n + 1
  local conversation = ids[(n % #ids) + 1]
  local body = string.format('{"text":"hello %d","client_msg_id":"%s-%s-%d"}', n, nonce, tid, n)
  return wrk.format("POST", "/api/v1/conversations/" .. conversation .. "/messages", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end
