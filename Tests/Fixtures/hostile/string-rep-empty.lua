-- expect: none. string.rep of the empty string 10^15 times is the empty string, at once (Lua 5.4.4 copies zero bytes 10^15 times).
return { route = function(f)
  local x = string.rep("", 1e15)
  return { channel = "#x" }
end }
