-- expect: time. One plain find: a 500,000-byte needle in a 1,000,000-byte subject.
return { route = function(f)
  local x = string.rep("a", 1e6):find(string.rep("a", 5e5) .. "b", 1, true)
  return { channel = "#x" }
end }
