-- expect: time. table.concat of 900,000 strings, in a loop.
return { route = function(f)
  local t = { string.byte(string.rep("a", 9e5), 1, -1) }
  for i = 1, 1e9 do local x = table.concat(t, ",") end
  return { channel = "#x" }
end }
