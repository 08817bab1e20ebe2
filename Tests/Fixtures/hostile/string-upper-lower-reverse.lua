-- expect: time. upper, lower and reverse of a 10 MB string, in a loop.
return { route = function(f)
  local s = string.rep("aB", 5e6)
  for i = 1, 1e9 do local x = s:upper():lower():reverse() end
  return { channel = "#x" }
end }
