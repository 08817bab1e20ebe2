-- expect: time. An anchored 10 MB literal, in a loop.
return { route = function(f)
  local s, p = string.rep("a", 1e7), "^" .. string.rep("a", 1e7 - 1) .. "b"
  for i = 1, 1e9 do local x = s:find(p) end
  return { channel = "#x" }
end }
