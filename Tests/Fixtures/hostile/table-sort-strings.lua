-- expect: time. table.sort of 20,000 strings sharing a 1,000-byte prefix (no comparator), in a loop.
return { route = function(f)
  local p = string.rep("x", 1000)
  local t = { string.byte(string.rep("\5\3\9\1\7", 4e3), 1, -1) }
  for i = 1, #t do t[i] = p .. t[i] .. i end
  for i = 1, 1e9 do table.sort(t) end
  return { channel = "#x" }
end }
