-- expect: time. string.format over a 5,000,000-conversion format, in a loop.
return { route = function(f)
  local fmt = string.rep("%%", 5e6)
  for i = 1, 1e9 do local x = string.format(fmt) end
  return { channel = "#x" }
end }
