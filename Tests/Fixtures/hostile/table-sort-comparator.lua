-- expect: instructions or time. table.sort with a Lua comparator of 900,000 numbers.
return { route = function(f)
  local t = { string.byte(string.rep("\5\3\9\1\7", 1.8e5), 1, -1) }
  table.sort(t, function(a, b) return a < b end)
  return { channel = "#x" }
end }
