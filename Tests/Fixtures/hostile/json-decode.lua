-- expect: time. json.decode of a 2 MB array, in a loop.
return { route = function(f)
  local s = "[" .. string.rep("0,", 1e6) .. "0]"
  for i = 1, 1e9 do local x = json.decode(s) end
  return { channel = "#x" }
end }
