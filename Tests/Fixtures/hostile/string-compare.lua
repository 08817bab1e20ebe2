-- expect: time. Comparing two 10 MB strings that differ in their last byte, in a loop (no call at all).
return { route = function(f)
  local a, b = string.rep("a", 1e7) .. "a", string.rep("a", 1e7) .. "b"
  local n = 0
  for i = 1, 1e9 do if a < b and a ~= b then n = n + 1 end end
  return { channel = "#x" }
end }
