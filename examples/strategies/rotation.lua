-- Relative-strength rotation between the run's symbols: hold (all in) whichever rose most over
-- its last `lookback` bars, switching when the leader changes. Run it on two or more symbols.
params = { lookback = {default=20, min=1, max=10000, int=true, desc="bars of return compared"} }

local held  -- the symbol the strategy holds (or has ordered), nil at first

function on_bar(bar)
  if bar.last then return end
  local best, best_return
  for _, sym in ipairs(symbols()) do
    local now, past = ago(0, sym), ago(params.lookback, sym)
    if now and past then
      local r = now.close / past.close - 1
      if best_return == nil or r > best_return then best, best_return = sym, r end
    end
  end
  if best == nil or best == held then return end
  if held then close_position(held) end
  buy({symbol=best})  -- all cash: on a bar both symbols share, the sale above fills first
  held = best
end
