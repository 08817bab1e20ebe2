-- expect: time. tonumber of a 10 MB numeric string, in a loop.
return { route = function(f)
  local s = "0x" .. string.rep("0", 1e7) .. "1"
  for i = 1, 1e9 do local x = tonumber(s) end
  return { channel = "#x" }
end }
