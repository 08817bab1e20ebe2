-- expect: time. utf8.offset over 12 MB and utf8.codepoint over 900 KB, in a loop.
return { route = function(f)
  local s = string.rep("\u{20AC}", 4e6)
  for i = 1, 1e9 do local x = utf8.offset(s, -4e6) + select("#", utf8.codepoint(s, 1, 9e5)) end
  return { channel = "#x" }
end }
