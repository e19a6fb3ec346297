-- RSI mean reversion with a protective stop: buy when RSI(n) falls below `lower`, sell when it
-- rises above `upper`. Once the entry has filled, a stop order `stop_pct` % below the entry price
-- protects it; it is cancelled when the strategy exits on its own.
params = {
  n = {default=14, min=2, max=500, int=true, desc="RSI period"},
  lower = {default=30, min=1, max=99, desc="buy below this RSI"},
  upper = {default=70, min=1, max=99, desc="sell above this RSI"},
  stop_pct = {default=3, min=0.1, max=50, desc="stop distance below the entry price, in %"},
}

local rsi
local stop_id  -- the resting stop order protecting the position, nil when none

function init()
  rsi = ta.rsi(params.n)
end

function on_bar(bar)
  local r = rsi(bar.close)
  local held = position()
  if held == 0 then
    stop_id = nil  -- flat: the stop has filled (or there was no position)
  elseif stop_id == nil then
    -- The entry filled at this bar's open (market orders fill at the next bar's open).
    stop_id = sell(held, {type="stop", stop=bar.open * (1 - params.stop_pct / 100)})
  end
  if r == nil or bar.last then return end
  if held == 0 and r < params.lower then
    buy()
  elseif held > 0 and r > params.upper then
    cancel(stop_id)
    stop_id = nil
    sell()
  end
end
