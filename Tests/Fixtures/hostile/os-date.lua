-- expect: time. os.date with a 20 KB format, in a loop.
return { route = function(f)
  local fmt = string.rep("%c", 1e4)
  for i = 1, 1e9 do local x = os.date(fmt, 0) end
  return { channel = "#x" }
end }
