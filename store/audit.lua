local function audit(stream, counter, maxlen, maxbytes, size, ...)
  maxlen, maxbytes, size = tonumber(maxlen), tonumber(maxbytes), tonumber(size)
  if redis.call('XLEN', stream) == 0 then redis.call('DEL', counter) end
  local id = redis.call('XADD', stream, '*', 'size', size, ...)
  local total = redis.call('INCRBY', counter, size)
  local n = redis.call('XLEN', stream)
  while n > 1 and (n > maxlen or total > maxbytes) do
    local old = redis.call('XRANGE', stream, '-', '+', 'COUNT', 64)
    for _, e in ipairs(old) do
      if e[1] == id or n <= 1 or (n <= maxlen and total <= maxbytes) then break end
      local sz, f = 0, e[2]
      for i = 1, #f, 2 do
        if f[i] == 'size' then sz = tonumber(f[i + 1]) or 0 end
      end
      redis.call('XDEL', stream, e[1])
      n = n - 1
      total = redis.call('DECRBY', counter, sz)
    end
  end
  return id
end
