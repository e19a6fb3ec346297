params = { n = 20 }
function on_bar(bar)
  local t = {}
  for i = 1, params.n do t[i] = (i * 7) % 13 end
  table.sort(t)
  table.sort(t, function(a, b) return a > b end)
  table.insert(t, 1, 0) table.insert(t, 99) table.remove(t, 1) table.remove(t)
  local u = table.move(t, 1, #t, 3, {})
  local p = table.pack(table.unpack(t, 1, 5))
  log(table.concat(t, ","), #u, p.n, select("#", table.unpack(t)), math.type(1), math.tointeger(3.0))
  local ok, err = pcall(error, {code = 1})
  local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
  log(coroutine.resume(co, 1), coroutine.resume(co, 5), coroutine.status(co), ok, type(err))
  local mt = setmetatable({}, {__index = function(_, k) return k end, __call = function() return 1 end, __tostring = function() return "obj" end})
  log(mt.key, mt(), tostring(mt), rawlen({1, 2}), rawequal(mt, mt), next({}), math.random(1, 6))
  if bar.last then error("the end at " .. bar.index) end
end
