-- expect: time. string.format %q of a 200 KB string of control characters, in a loop.
return { route = function(f)
  local s = string.rep("\0\n", 1e5)
  for i = 1, 1e9 do local x = string.format("%q", s) end
  return { channel = "#x" }
end }
