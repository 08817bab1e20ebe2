-- expect: time. One find call: %b() over 100,000 unbalanced parentheses.
return { route = function(f)
  local x = string.find(string.rep("(", 1e5), "%b()")
  return { channel = "#x" }
end }
