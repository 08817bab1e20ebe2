-- expect: time. table.sort of 900,000 numbers, in a loop.
return { route = function(f)
  local t = { string.byte(string.rep("\5\3\9\1\7", 1.8e5), 1, -1) }
  for i = 1, 1e9 do table.sort(t); table.sort(t, function(a, b) return a > b end) end
  return { channel = "#x" }
end }
