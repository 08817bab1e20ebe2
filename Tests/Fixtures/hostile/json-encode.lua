-- expect: time. json.encode of a 900,000-entry array, in a loop.
return { route = function(f)
  local t = json.array({ string.byte(string.rep("a", 9e5), 1, -1) })
  for i = 1, 1e9 do local x = json.encode(t) end
  return { channel = "#x" }
end }
