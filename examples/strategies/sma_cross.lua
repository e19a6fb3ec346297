-- SMA crossover, the built-in sma_cross's fills: long while the fast mean is above the slow one.
params = { fast = {default=10, min=1, max=10000, int=true}, slow = {default=30, min=2, max=10000, int=true} }
local fast, slow
function init() fast, slow = ta.sma(params.fast), ta.sma(params.slow) end
function on_bar(bar)
  local close = bar.close
  local f, s = fast(close), slow(close)
  plot("fast", f); plot("slow", s)  -- over the price, as the built-in's (nil while warming up)
  if s == nil or bar.last then return end
  local long = f - s > 1e-10 * math.abs(s)  -- "above", as the built-ins compare
  if long and position() <= 0 then buy() elseif not long and position() > 0 then sell() end
end
