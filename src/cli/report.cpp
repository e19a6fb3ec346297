#include "cli/report.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include "api/json.h"
#include "common/json_writer.h"

namespace tapedeck::cli {
namespace {

// The strategy's parameters with defaults filled in, in schema order.
std::vector<std::pair<std::string, double>> EffectiveParams(const ReportInput& in) {
  std::vector<std::pair<std::string, double>> out;
  const std::vector<strategies::ParamSpec>* schema = in.schema;
  if (schema == nullptr) {
    auto info = strategies::Find(in.strategy);
    if (!info.ok()) return out;
    schema = &(*info)->params;
  }
  for (const strategies::ParamSpec& p : *schema) {
    auto it = in.params.find(p.name);
    out.emplace_back(p.name, it == in.params.end() ? p.default_value : it->second);
  }
  return out;
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string Percent(double v) { return std::isfinite(v) ? Fmt("%.2f%%", v * 100) : "n/a"; }
std::string Ratio(double v) { return std::isfinite(v) ? Fmt("%.3f", v) : (v > 0 ? "inf" : "n/a"); }

std::string Money(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", std::fabs(v));
  std::string digits(buf);
  const size_t dot = digits.find('.');
  std::string grouped;
  for (size_t i = 0; i < dot; ++i) {
    if (i > 0 && (dot - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  return (v < 0 ? "-" : "") + grouped + digits.substr(dot);
}

std::string Duration(Micros d) {
  const double days = std::chrono::duration<double>(d).count() / 86400.0;
  if (days >= 1) return Fmt("%.0f days", days);
  return Fmt("%.1f hours", days * 24);
}

// The span of all the series' times: "first .. last", or "-" when there are no bars.
std::pair<std::optional<Timestamp>, std::optional<Timestamp>> Period(const ReportInput& in) {
  std::optional<Timestamp> from, to;
  for (const market::Series& d : in.data) {
    if (d.empty()) continue;
    if (!from || d.times().front() < *from) from = d.times().front();
    if (!to || d.times().back() > *to) to = d.times().back();
  }
  return {from, to};
}

struct SymbolTrades {
  size_t trades = 0, wins = 0;
  double pnl = 0;
};

// The trades of each symbol, in the run's symbol order: summed by the run when it kept no trades
// (RunConfig::record_history off), else here, the same sums in the same order.
std::vector<SymbolTrades> TradesBySymbol(const ReportInput& in) {
  std::vector<SymbolTrades> out(in.data.size());
  if (!in.result.trade_totals.empty()) {
    for (size_t i = 0; i < out.size() && i < in.result.trade_totals.size(); ++i) {
      const engine::TradeTotals& t = in.result.trade_totals[i];
      out[i] = SymbolTrades{t.trades, t.wins, t.pnl};
    }
    return out;
  }
  for (const engine::Trade& t : in.result.trades) {
    if (t.symbol >= out.size()) continue;
    SymbolTrades& s = out[t.symbol];
    ++s.trades;
    if (t.pnl > 0) ++s.wins;
    if (std::isfinite(t.pnl)) s.pnl += t.pnl;
  }
  return out;
}

std::string SymbolList(const ReportInput& in) {
  std::string out;
  for (const market::Series& d : in.data) out += (out.empty() ? "" : ", ") + d.symbol();
  return out;
}

}  // namespace

std::string ReportText(const ReportInput& in) {
  const engine::Stats& s = in.result.stats;
  std::string params;
  for (const auto& [name, value] : EffectiveParams(in)) {
    if (!params.empty()) params += ", ";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s=%g", name.c_str(), value);
    params += buf;
  }
  std::string out;
  auto line = [&out](const std::string& label, const std::string& value) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-22s %s\n", label.c_str(), value.c_str());
    out += buf;
  };
  out += "tapedeck backtest: " + in.strategy + "(" + params + ") on " + SymbolList(in) + "\n";
  line("data", in.source);
  const auto [from, to] = Period(in);
  line("period", from ? FormatIso(*from) + " .. " + FormatIso(*to) : "-");
  line("bars", std::to_string(s.bars));
  line("costs", "commission " + Percent(in.config.costs.commission) + ", fixed fee " +
                    Money(in.config.costs.fixed_fee) + ", slippage " +
                    Percent(in.config.costs.slippage));
  out += "\n";
  line("starting equity", Money(s.start_equity));
  line("final equity", Money(s.final_equity));
  line("total return", Percent(s.total_return));
  line("CAGR", Percent(s.cagr));
  line("buy and hold return", Percent(s.buy_and_hold_return));
  line("annualised volatility", Percent(s.volatility));
  line("Sharpe", Ratio(s.sharpe));
  line("Sortino", Ratio(s.sortino));
  line("Calmar", Ratio(s.calmar));
  line("max drawdown", Percent(s.max_drawdown) + " (longest " + Duration(s.max_drawdown_duration) +
                           " under water)");
  out += "\n";
  line("fills", std::to_string(s.fills));
  line("trades", std::to_string(s.trades));
  line("win rate", Percent(s.win_rate));
  line("profit factor", Ratio(s.profit_factor));
  line("expectancy", Money(s.expectancy) + " per trade");
  line("exposure", Percent(s.exposure));
  if (in.data.size() > 1) {
    out += "\n  trades per symbol\n";
    const std::vector<SymbolTrades> by = TradesBySymbol(in);
    for (size_t i = 0; i < by.size(); ++i) {
      line(in.data[i].symbol(), std::to_string(by[i].trades) + " trades, " +
                                    std::to_string(by[i].wins) + " won, P&L " + Money(by[i].pnl));
    }
  }
  return out;
}

std::string ReportJson(const ReportInput& in) {
  const engine::Stats& s = in.result.stats;
  JsonWriter w;
  w.BeginObject();
  w.Key("strategy").String(in.strategy);
  w.Key("params").BeginObject();
  for (const auto& [name, value] : EffectiveParams(in)) w.Key(name).Number(value);
  w.EndObject();
  w.Key("symbol").String(in.data.empty() ? "" : in.data.front().symbol());
  w.Key("symbols").BeginArray();
  for (const market::Series& d : in.data) w.String(d.symbol());
  w.EndArray();
  w.Key("source").String(in.source);
  if (const auto [from, to] = Period(in); from) {
    w.Key("from").String(FormatIso(*from));
    w.Key("to").String(FormatIso(*to));
  }
  w.Key("cash").Number(in.config.cash);
  w.Key("commission").Number(in.config.costs.commission);
  w.Key("fixed_fee").Number(in.config.costs.fixed_fee);
  w.Key("slippage").Number(in.config.costs.slippage);
  api::WriteStatsFields(w, s);
  w.Key("by_symbol").BeginObject();
  const std::vector<SymbolTrades> by = TradesBySymbol(in);
  for (size_t i = 0; i < by.size(); ++i) {
    w.Key(in.data[i].symbol()).BeginObject();
    w.Key("trades").Int(static_cast<int64_t>(by[i].trades));
    w.Key("wins").Int(static_cast<int64_t>(by[i].wins));
    w.Key("pnl").Number(by[i].pnl);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  std::string out = w.Take();
  out += '\n';
  return out;
}

}  // namespace tapedeck::cli
