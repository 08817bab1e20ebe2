-- expect: memory. Filling the heap inside pcall, again and again.
return { route = function(f)
  while true do pcall(function() local t = {} for i = 1, 1e9 do t[i] = {} end end) end
  return { channel = "#x" }
end }
