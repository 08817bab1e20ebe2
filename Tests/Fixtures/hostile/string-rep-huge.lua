-- expect: memory. string.rep("x", 1e9).
return { route = function(f)
  local x = string.rep("x", 1e9)
  return { channel = "#x" }
end }
