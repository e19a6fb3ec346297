local s = string.rep("a", 20000)
function on_bar(bar)
  pcall(string.find, s, string.rep("a-", 8) .. "b")
  pcall(string.rep, "", math.maxinteger)
  pcall(table.move, {}, 1, math.maxinteger, 1)
  local t = {} t[t] = math.maxinteger - 1
  setmetatable(t, {__len = rawget})
  pcall(table.insert, t, 1, 0)
  pcall(table.concat, setmetatable({}, {__index = table.concat}), "", 1, math.maxinteger)
  pcall(function() return io.open("x", "w") end)
  pcall(load, "return 1")
  pcall(collectgarbage, "collect")
  pcall(setmetatable, "", {})
  while true do end
end
