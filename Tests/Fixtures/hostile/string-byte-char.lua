-- expect: time. string.byte and string.char over 900,000 bytes, in a loop.
return { route = function(f)
  local s = string.rep("a", 9e5)
  for i = 1, 1e9 do local x = string.char(string.byte(s, 1, -1)) end
  return { channel = "#x" }
end }
