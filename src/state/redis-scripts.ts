// The Lua scripts of the Redis usage store: each runs atomically in Redis, so several
// kvfleet instances never interleave a check and its charge. Same rules as evaluate.ts and
// core/limits/gcra.ts (test/integration checks them against each other on a real Redis).
// Redis turns Lua numbers into integers, so every number comes back as a string.

/**
 * admit: KEYS = the plan's check keys, then its usage counter keys.
 * ARGV = now, #checks, #usage keys, usage expiry (wall ms), force ('1': charge even when a
 *        check refuses — the caller already admitted the request from its own headroom), then per check:
 *        kind ('r' rate | 'b' budget), limit, window ms (rate) or reset at (budget), cost, enforce ('1'/'0').
 * Returns: ok ('1'/'0'), then per check: allowed, remaining, resetMs, retryAfterMs.
 */
export const ADMIT_LUA = `
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local nu = tonumber(ARGV[3])
local usageExpire = ARGV[4]
local force = ARGV[5] == '1'
local out = {}
local ok = 1
local nextTat = {}
for k = 1, n do
  local a = 5 + (k - 1) * 5
  local kind = ARGV[a + 1]
  local limit = tonumber(ARGV[a + 2])
  local win = tonumber(ARGV[a + 3])
  local cost = tonumber(ARGV[a + 4])
  local enforce = ARGV[a + 5]
  local cur = tonumber(redis.call('GET', KEYS[k]))
  if kind == 'r' then
    local t = win / limit
    local base = math.max(cur or now, now)
    local nxt = base + cost * t
    local allowAt = nxt - win
    nextTat[k] = nxt
    if allowAt > now then
      ok = 0
      local retry = allowAt - now
      if cost > limit then retry = win end
      out[#out + 1] = '0'
      out[#out + 1] = tostring(math.max(0, math.floor((now + win - base) / t)))
      out[#out + 1] = tostring(base - now)
      out[#out + 1] = tostring(retry)
    else
      out[#out + 1] = '1'
      out[#out + 1] = tostring(math.max(0, math.floor((now + win - nxt) / t)))
      out[#out + 1] = tostring(nxt - now)
      out[#out + 1] = '0'
    end
  else
    local spent = cur or 0
    local resetMs = math.max(0, win - now)
    if enforce == '1' and spent >= limit then
      ok = 0
      out[#out + 1] = '0'
      out[#out + 1] = tostring(math.max(0, limit - spent))
      out[#out + 1] = tostring(resetMs)
      out[#out + 1] = tostring(resetMs)
    else
      out[#out + 1] = '1'
      out[#out + 1] = tostring(math.max(0, limit - spent - cost))
      out[#out + 1] = tostring(resetMs)
      out[#out + 1] = '0'
    end
  end
end
if ok == 1 or force then
  for k = 1, n do
    local a = 5 + (k - 1) * 5
    if ARGV[a + 1] == 'r' then
      redis.call('SET', KEYS[k], tostring(nextTat[k]), 'PX', math.max(1, math.ceil(nextTat[k] - now) + 1000))
    else
      redis.call('INCRBYFLOAT', KEYS[k], ARGV[a + 4])
      redis.call('PEXPIREAT', KEYS[k], math.floor(tonumber(ARGV[a + 3])) + 86400000)
    end
  end
  for u = 1, nu do
    redis.call('HINCRBY', KEYS[n + u], 'requests', 1)
    redis.call('PEXPIREAT', KEYS[n + u], usageExpire)
  end
end
table.insert(out, 1, tostring(ok))
return out
`;

/**
 * settle: KEYS = the keys to correct. ARGV = now, then per key: kind and its arguments:
 *   'r' limit windowMs delta       a rate window's TAT moves by delta · window / limit
 *   'b' delta                      a budget total moves by delta (only while its window lives)
 *   'u' prompt completion cached usd expireAt   usage counters grow
 * Every key takes 6 ARGV slots: the kind and 5 arguments (unused ones empty).
 */
export const SETTLE_LUA = `
local now = tonumber(ARGV[1])
for k = 1, #KEYS do
  local a = 1 + (k - 1) * 6
  local kind = ARGV[a + 1]
  if kind == 'r' then
    local limit = tonumber(ARGV[a + 2])
    local win = tonumber(ARGV[a + 3])
    local delta = tonumber(ARGV[a + 4])
    local cur = tonumber(redis.call('GET', KEYS[k]))
    local tat = math.max(cur or now, now) + delta * win / limit
    if tat > now then
      redis.call('SET', KEYS[k], tostring(tat), 'PX', math.max(1, math.ceil(tat - now) + 1000))
    else
      redis.call('DEL', KEYS[k])
    end
  elseif kind == 'b' then
    if redis.call('EXISTS', KEYS[k]) == 1 then
      local v = tonumber(redis.call('INCRBYFLOAT', KEYS[k], ARGV[a + 2]))
      if v < 0 then redis.call('SET', KEYS[k], '0', 'KEEPTTL') end
    end
  else
    redis.call('HINCRBY', KEYS[k], 'prompt_tokens', ARGV[a + 2])
    redis.call('HINCRBY', KEYS[k], 'completion_tokens', ARGV[a + 3])
    redis.call('HINCRBY', KEYS[k], 'cached_tokens', ARGV[a + 4])
    redis.call('HINCRBYFLOAT', KEYS[k], 'usd', ARGV[a + 5])
    redis.call('PEXPIREAT', KEYS[k], ARGV[a + 6])
  end
end
return 1
`;
