#include "engine/engine.h"

namespace tapedeck::engine {

std::string_view ToString(Side side) { return side == Side::kBuy ? "buy" : "sell"; }

std::string_view ToString(OrderType type) {
  switch (type) {
    case OrderType::kMarket:
      return "market";
    case OrderType::kLimit:
      return "limit";
    case OrderType::kStop:
      return "stop";
    case OrderType::kStopLimit:
      return "stop_limit";
  }
  return "market";
}

std::string_view ToString(OrderStatus status) {
  switch (status) {
    case OrderStatus::kSubmitted:
      return "submitted";
    case OrderStatus::kFilled:
      return "filled";
    case OrderStatus::kCancelled:
      return "cancelled";
    case OrderStatus::kRejected:
      return "rejected";
  }
  return "submitted";
}

std::string_view ToString(PlotPane pane) { return pane == PlotPane::kOwn ? "own" : "price"; }

}  // namespace tapedeck::engine
