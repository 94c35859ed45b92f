-- POST /api/v1/auth/login, each request from another client address (X-Forwarded-For, with
-- CLEAVE_TRUSTED_PROXIES=1), so the per-IP limits measure nothing but the login itself.
counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email": "bench@example.com", "password": "correct horse battery staple", ' ..
           '"device": {"device_id": "bench-phone", "platform": "ios", "app_version": "1.0"}}'

request = function()
  counter = counter + 1
  local a = math.floor(counter / 65536) % 256
  local b = math.floor(counter / 256) % 256
  local c = counter % 256
  wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", a, b, c)
  return wrk.format()
end
