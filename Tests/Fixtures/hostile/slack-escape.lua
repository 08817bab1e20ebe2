-- expect: time. slack.escape of a 3 MB string, in a loop.
return { route = function(f)
  local s = string.rep("<&>", 1e6)
  for i = 1, 1e9 do local x = slack.escape(s) end
  return { channel = "#x" }
end }
