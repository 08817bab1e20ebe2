-- expect: time. string.packsize over a 1 MB format, in a loop.
return { route = function(f)
  local fmt = string.rep("b", 1e6)
  for i = 1, 1e9 do local x = string.packsize(fmt) end
  return { channel = "#x" }
end }
