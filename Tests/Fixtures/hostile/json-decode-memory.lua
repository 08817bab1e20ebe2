-- expect: memory. json.decode of a 6 MB array: its parse tape alone needs 48 MB, more than the rule state has left.
return { route = function(f)
  local x = json.decode("[" .. string.rep("0,", 3e6) .. "0]")
  return { channel = "#x" }
end }
