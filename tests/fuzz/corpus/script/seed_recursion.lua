local function f(n) return f(n + 1) + 1 end
local t = setmetatable({}, {__index = function(t, k) return t[k + 1] end})
function on_bar(bar)
  pcall(f, 1)
  pcall(function() return t[1] end)
  local co = coroutine.wrap(function() while true do coroutine.yield(f(1)) end end)
  pcall(co)
end
