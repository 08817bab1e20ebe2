-- expect: time. A chain of 2,000,000 frontier tests, in a loop.
return { route = function(f)
  local s, p = string.rep("a", 10), string.rep("%f[a]", 2e6) .. "b"
  for i = 1, 1e9 do local x = s:find(p) end
  return { channel = "#x" }
end }
