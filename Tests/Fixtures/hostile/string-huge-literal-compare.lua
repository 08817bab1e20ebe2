-- expect: time. A 64 KB string made at load, compared in a loop in every event (careful mode from load time).
local big = string.rep("a", 65536)
return { route = function(f)
  local other = string.rep("a", 65535) .. "b"
  local n = 0
  for i = 1, 1e9 do if big < other then n = n + 1 end end
  return { channel = "#x" }
end }
