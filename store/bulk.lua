
-- KEYS[1]: the index (it routes the script on Cluster). ARGV[1]: the
-- number of flags n; then per flag its hash key, its environment-set key
-- and its fingerprint as read; then the number m of shared keys and m
-- pairs of key and type; then the command list.
local function fingerprint(hkey, ekey)
  local ok, h = pcall(redis.call, 'HMGET', hkey, 'version', 'updatedAt')
  local fp = '!'
  if ok then fp = (h[1] or '') .. '\0' .. (h[2] or '') end
  local ok2, m = pcall(redis.call, 'SMEMBERS', ekey)
  if not ok2 then return fp .. '\0!' end
  table.sort(m)
  return fp .. '\0' .. table.concat(m, '\0')
end

local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local b = 2 + 3 * i
  if fingerprint(ARGV[b], ARGV[b + 1]) ~= ARGV[b + 2] then return 0 end
end
-- Keys every flag shares must have their type, or a write would fail half
-- way (a script is not rolled back): refuse before writing anything.
local b = 2 + 3 * n
local m = tonumber(ARGV[b])
for j = 0, m - 1 do
  local k, t = ARGV[b + 1 + 2 * j], ARGV[b + 2 + 2 * j]
  local got = redis.call('TYPE', k)['ok']
  if got ~= 'none' and got ~= t then
    return redis.error_reply('WRONGTYPE ' .. k .. ' is a ' .. got .. ', not a ' .. t .. '; nothing written')
  end
end
local i = b + 1 + 2 * m
while i <= #ARGV do
  local argc = tonumber(ARGV[i])
  if ARGV[i + 1] == 'AUDIT' then
    audit(unpack(ARGV, i + 2, i + argc))
  else
    redis.call(unpack(ARGV, i + 1, i + argc))
  end
  i = i + argc + 1
end
return 1
