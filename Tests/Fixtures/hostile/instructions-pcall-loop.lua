-- expect: instructions or time. An endless loop inside pcall, inside an endless loop.
return { route = function(f)
  while true do pcall(function() while true do end end) end
  return { channel = "#x" }
end }
