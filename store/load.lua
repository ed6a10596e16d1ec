-- Reads whole flags of the tutorial's layout in one step, so that each is
-- read from one moment without a second round trip for its environment
-- set. KEYS[1]: the index (it routes the script on Cluster; not read).
-- ARGV[1]: the key prefix; ARGV[2]: the large-set threshold (0: none);
-- ARGV[3]: the most members of one set this script returns; ARGV[4]: the
-- number of fields and members after which it stops (the caller asks
-- again for the rest); ARGV[5..]: the flag keys.
--
-- The reply is one MessagePack array, an entry per flag read:
--   0 when a set of the flag has more than ARGV[3] members and is not left
--     in Redis (the caller reads that flag another way);
--   {envs, hash, env hash, users, regions, ...} otherwise, the environment
--     fields in the order of envs; a set left in Redis is its member count;
--   {envs} alone when the environment set could not be read.
-- A key that could not be read (WRONGTYPE) is its error, {err = "..."}.
local prefix = ARGV[1]
local large = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
local used = 0
local out = {}

-- set returns a set's members, its size when it stays in Redis, the error,
-- or nil when it is too large for this script.
local function set(key)
  local n = redis.pcall('SCARD', key)
  if type(n) == 'table' then return n end
  if large > 0 and n > large then return n end
  if n > cap then return nil end
  if n == 0 then return {} end
  used = used + n
  return redis.pcall('SMEMBERS', key)
end

for i = 5, #ARGV do
  local base = prefix .. ':flag:' .. ARGV[i]
  local envs = redis.pcall('SMEMBERS', base .. ':environments')
  local entry = {envs}
  if envs.err == nil then
    local hash = redis.pcall('HGETALL', base)
    entry[2] = hash
    if hash.err == nil then used = used + #hash end
    for _, name in ipairs(envs) do
      local ek = base .. ':environment:' .. name
      local eh = redis.pcall('HGETALL', ek)
      if eh.err == nil then used = used + #eh end
      local users = set(ek .. ':users')
      local regions = set(ek .. ':regions')
      if users == nil or regions == nil then
        entry = 0
        break
      end
      entry[#entry + 1] = eh
      entry[#entry + 1] = users
      entry[#entry + 1] = regions
    end
  end
  out[#out + 1] = entry
  if used >= budget then break end
end

-- Redis has cmsgpack; an emulation without it (miniredis) gets the same
-- bytes from pack below, which writes what this reply holds: arrays,
-- strings, non-negative integers and error tables.
local ok, mp = pcall(function() return cmsgpack end)
if ok and mp then return mp.pack(out) end

local function be(n, bytes)
  local b = {}
  for k = bytes, 1, -1 do
    b[k] = n % 256
    n = math.floor(n / 256)
  end
  return string.char(unpack(b))
end

-- Output goes to buf, which is joined into chunks every 512 parts: an
-- emulation's table.concat may take only so many at once.
local buf, chunks = {}, {}
local function emit(x)
  buf[#buf + 1] = x
  if #buf >= 512 then
    chunks[#chunks + 1] = table.concat(buf)
    buf = {}
  end
end

local function pack(v)
  local t = type(v)
  if t == 'string' then
    local n = #v
    if n < 32 then emit(string.char(0xa0 + n))
    elseif n < 256 then emit(string.char(0xd9) .. be(n, 1))
    elseif n < 65536 then emit(string.char(0xda) .. be(n, 2))
    else emit(string.char(0xdb) .. be(n, 4)) end
    emit(v)
  elseif t == 'number' then
    emit(string.char(0xcf) .. be(v, 8))
  elseif v.err then
    emit(string.char(0x81))
    pack('err')
    pack(v.err)
  else
    local n = #v
    if n < 16 then emit(string.char(0x90 + n))
    elseif n < 65536 then emit(string.char(0xdc) .. be(n, 2))
    else emit(string.char(0xdd) .. be(n, 4)) end
    for _, x in ipairs(v) do pack(x) end
  end
end

pack(out)
chunks[#chunks + 1] = table.concat(buf)
return table.concat(chunks)
