-- expect: time. table.insert and table.remove at the front of a 900,000-entry table, in a loop.
return { route = function(f)
  local t = { string.byte(string.rep("a", 9e5), 1, -1) }
  for i = 1, 1e9 do table.insert(t, 1, 0); table.remove(t, 1) end
  return { channel = "#x" }
end }
