local keep = {}
function on_bar(bar)
  local s = "x"
  for i = 1, 40 do s = s .. s; keep[#keep + 1] = s end
end
