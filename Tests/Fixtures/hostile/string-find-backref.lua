-- expect: time. A million back-references in one pattern, in a loop.
return { route = function(f)
  local s, p = string.rep("a", 1e7), "^(" .. string.rep("a", 10) .. ")" .. string.rep("%1", 1e6 - 1)
  for i = 1, 1e9 do local x = s:find(p) end
  return { channel = "#x" }
end }
