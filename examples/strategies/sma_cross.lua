-- SMA crossover: long while the fast mean of closes is above the slow one, flat otherwise.
-- The same fills as the built-in sma_cross ("above": a - b > 1e-10 * |b|).
params = { fast = {default=10, min=1, max=10000, int=true}, slow = {default=30, min=2, max=10000, int=true} }
local fast, slow
function init() fast, slow = ta.sma(params.fast), ta.sma(params.slow) end
function on_bar(bar)
  local f, s = fast(bar.close), slow(bar.close)
  plot("fast", f); plot("slow", s)  -- drawn over the price as the built-in's (nil: warming up)
  if s == nil or bar.last then return end
  local long = f - s > 1e-10 * math.abs(s)
  if long and position() <= 0 then buy() elseif not long and position() > 0 then sell() end
end
