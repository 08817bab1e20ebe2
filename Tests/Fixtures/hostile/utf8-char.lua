-- expect: time. utf8.char of 900,000 code points, in a loop.
return { route = function(f)
  local t = { string.byte(string.rep("a", 9e5), 1, -1) }
  for i = 1, 1e9 do local x = utf8.char(table.unpack(t)) end
  return { channel = "#x" }
end }
