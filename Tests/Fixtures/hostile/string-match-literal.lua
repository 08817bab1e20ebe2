-- expect: time. One match call: a 50,000-byte literal tried at each of 100,000 positions.
return { route = function(f)
  local x = string.rep("a", 1e5):match(string.rep("a", 5e4) .. "b")
  return { channel = "#x" }
end }
