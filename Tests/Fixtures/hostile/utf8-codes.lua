-- expect: time. One utf8.codes step skipping 12 MB of continuation bytes, in a loop.
return { route = function(f)
  local s = "a" .. string.rep("\x80", 1.2e7)
  local it = utf8.codes("a")
  for i = 1, 1e9 do local ok = pcall(it, s, 1) end
  return { channel = "#x" }
end }
