local s = string.rep("ab,12 ", 50)
function on_bar(bar)
  local n = 0
  for w in s:gmatch("[^,]+") do n = n + 1 end
  local t = s:gsub("%s+", " ")
  local a, b, c = s:find("(%d+)%s*(%a+)")
  local m = s:match("^(a-)b")
  local q = string.format("%q %5.2f %d %s", s:sub(1, 5), bar.close, n, tostring(m))
  local bal = ("(a(b)c)"):find("%b()")
  local fr = ("THE (quick) fox"):find("%f[%a]%a+")
  local bytes = {s:byte(1, 10)}
  local u = utf8.char(72, 228, 8364) .. utf8.charpattern
  for p, cp in utf8.codes(u) do n = n + cp end
  log(n, #t, a, b, c, q, bal, fr, #bytes, utf8.len(u), utf8.offset(u, 2), utf8.codepoint(u, 1, -1))
  local packed = string.pack("i4 d s1 z", 7, 1.5, "x", "yz")
  log(string.unpack("i4 d s1 z", packed), string.packsize("i4 d"))
end
