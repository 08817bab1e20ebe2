-- expect: time. utf8.len of a 12 MB string, in a loop.
return { route = function(f)
  local s = string.rep("\u{20AC}", 4e6)
  for i = 1, 1e9 do local x = utf8.len(s) end
  return { channel = "#x" }
end }
