params = { fast = {default=3, min=1, max=50, int=true, desc="fast"}, k = 0.5 }
local f, s, r, d, h, l, a, m
function init()
  f, s, r = ta.sma(params.fast), ta.ema(5), ta.rsi(4)
  d, h, l, a, m = ta.stdev(4), ta.highest(3), ta.lowest(3), ta.atr(3), ta.macd(2, 5, 3)
end
function on_bar(bar)
  local x, y, z = f(bar.close), s(bar.close), r(bar.close)
  local ml, ms, mh = m(bar.close)
  plot("fast", x)
  plot("rsi", z, {pane="own"})
  if bar.index % 5 == 0 then log("bar", bar.index, bar.time, cash(), equity(), position()) end
  if x and y and x > y and position() <= 0 then buy(1) end
  if x and y and x < y and position() > 0 then close_position() end
  if bar.index == 3 then
    local id = buy(2, {type="limit", limit=bar.close * 0.9})
    cancel(id)
    sell(1, {type="stop", stop=bar.low * 0.5, symbol="OTHER"})
    buy(1, {type="stop_limit", stop=bar.high * 2, limit=bar.high * 3})
  end
  if bar.last then log(position("OTHER"), d(bar.close), h(bar.close), l(bar.close), a(bar)) end
end
