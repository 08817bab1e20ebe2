-- expect: time. One find call: a captured 50,000-byte literal at each position.
return { route = function(f)
  local x = string.rep("a", 1e5):find("(" .. string.rep("a", 5e4) .. ")b")
  return { channel = "#x" }
end }
