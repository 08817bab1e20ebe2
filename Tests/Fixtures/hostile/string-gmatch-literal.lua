-- expect: time. One gmatch step: a 50,000-byte literal at each position.
return { route = function(f)
  for x in string.rep("a", 1e5):gmatch(string.rep("a", 5e4) .. "b") do end
  return { channel = "#x" }
end }
