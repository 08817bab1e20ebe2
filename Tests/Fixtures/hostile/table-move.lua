-- expect: time. table.move of 10^15 nil entries: a loop with nothing to allocate.
return { route = function(f)
  local x = table.move({}, 1, 1e15, 2)
  return { channel = "#x" }
end }
